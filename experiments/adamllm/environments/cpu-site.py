"""Installed as `workbench_cpu_site.py` (with a .pth line importing it) into the CPU rehearsal's
environments only, never the paper's. PyPI has no CPU build of torchvision (its Linux wheels
link CUDA libraries that a CPU torch lacks, so `import torchvision` fails), and transformers 4.52's
Qwen2VLProcessor requires a video processor, which requires torchvision. Here the processor is
made image-only when transformers defines it: the `video_processor` attribute is dropped, so
AutoProcessor loads the image processor and the tokenizer of the real file layout and nothing else.
The paper never gives Qwen2-VL a video. Nothing else is changed."""
import importlib.abc
import importlib.machinery
import sys

TARGET = "transformers.models.qwen2_vl.processing_qwen2_vl"


def _patch(module):
    from transformers.processing_utils import ProcessorMixin

    cls = module.Qwen2VLProcessor
    cls.attributes = [a for a in cls.attributes if a != "video_processor"]
    mixin_init = ProcessorMixin.__init__

    def init(self, *args, **kwargs):
        if isinstance(self, cls) and len(args) == 3 and args[2] is None:
            args = args[:2]  # Qwen2VLProcessor.__init__ passes video_processor=None on
        mixin_init(self, *args, **kwargs)

    ProcessorMixin.__init__ = init
    print("workbench rehearsal: Qwen2VLProcessor is image-only here (no CPU torchvision)", file=sys.stderr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def run(module):
            exec_module(module)
            _patch(module)

        loader.exec_module = run
        return spec


sys.meta_path.insert(0, _Finder())
