"""CPU smoke chain of the AdaMLLM pipeline (arXiv 2411.19930), one module per stage.

Each stage runs as `python -m workbench_smoke.<stage> ...`; stages talk only through files.
Models are tiny and built from configs in code; nothing is downloaded.
"""
