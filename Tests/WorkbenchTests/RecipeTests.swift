import Foundation
import TestSupport
import Testing

/// The paper profile's recipes with stand-ins for the upstream programs (no GPU here): what they
/// launch with what they are given, and clear refusals. What a cell trains on is the catalog's
/// (PaperCatalogTests pins it); a training recipe only runs the program.
@Suite(.serialized) struct RecipeTests {
    /// evaluate.sh runs the upstream inference, data-parallel as run_inference.sh runs it, in a
    /// private view of the checkout whose working directory shows the pinned benchmark snapshot
    /// under the hub name the upstream code loads; a failed shard or a merged file short of rows
    /// fails the stage (upstream's bare `wait` would score what the other shards wrote).
    @Test func evaluateShardsTheUpstreamInferenceOverThePinnedBenchmark() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        // A stand-in checkout and interpreter: inference.py reads what the real one reads (the
        // benchmark by its hub name, ../process, ./utils); merge_predictions.py writes ROWS rows;
        // eval_predictions.py a results file; datasets says the benchmark has 2 rows.
        try ws.write("qa/process/syn_utils.py", "hint = 1\n")
        try ws.write("qa/vllm_inference/utils/map.json", "{}")
        try ws.write("qa/vllm_inference/inference.py", "")
        try ws.write("snap/bench/SLAKE/test.txt", "pinned rows\n")
        try ws.write("preds.jsonl", "{}\n{}\n{}\n")
        try ws.write(
            "stub/python",
            #"""
            #!/bin/sh
            case "$*" in
              *inference.py*) echo "infer CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES HF_DATASETS_OFFLINE=$HF_DATASETS_OFFLINE $*" >> "$LOG"
                cat AdaptLLM/biomed-VQA-benchmark/SLAKE/test.txt ../process/syn_utils.py ./utils/map.json > "$SEEN"
                case "$*" in *"--cuda_device $FAIL_SHARD "*) exit 3 ;; esac; exit 0 ;;
              *merge_predictions.py*) out=$(echo "$*" | sed 's/.*--output_dir \([^ ]*\).*/\1/')
                head -n "$ROWS" "$PREDS" > "$out.jsonl"; echo "merge $out" >> "$LOG"; exit 0 ;;
              *eval_predictions.py*) echo "eval $*" >> "$LOG"; exit 0 ;;
              *load_dataset*) echo 2; exit 0 ;;
            esac
            exec /usr/bin/python3 "$@"
            """#)
        try ws.write(
            "bench.json",
            #"{"repo": "AdaptLLM/biomed-VQA-benchmark", "kind": "dataset", "commit": "0123456789abcdef0123456789abcdef01234567"}"#
        )
        try ws.write(
            "stub/wb",
            """
            #!/bin/sh
            case "$1" in
              fetch) echo "$PWD/snap/bench" ;;
              score) echo "score $*" >> "$PWD/log" ;;
            esac
            """)
        try ws.write("model/config.json", #"{"model_type": "qwen2_vl"}"#)
        try await ws.sh("chmod +x stub/wb stub/python")
        func evaluate(_ env: String, out: String) async throws -> String {
            try await ws.sh(
                """
                rm -f log; \(env) LOG=$PWD/log SEEN=$PWD/seen.txt PREDS=$PWD/preds.jsonl WORKBENCH=$PWD/stub/wb \\
                  bash experiments/adamllm/recipes/evaluate.sh $PWD/stub/python $PWD/qa $PWD/model med qwen2_vl $PWD/bench.json $PWD/\(out) SLAKE PathVQA 2>&1; echo rc=$?
                """)
        }
        let r = try await evaluate("CUDA_VISIBLE_DEVICES=4,5 ROWS=2 FAIL_SHARD=none", out: "eval")
        #expect(r.hasSuffix("rc=0\n"), "\(r)")
        #expect(try ws.read("seen.txt") == "pinned rows\nhint = 1\n{}")
        let log = try ws.read("log")
        let infers = log.split(separator: "\n").filter { $0.hasPrefix("infer ") }
        #expect(infers.count == 4, "two tasks, two shards each: \(log)")
        #expect(
            infers.allSatisfy {
                $0.contains("HF_DATASETS_OFFLINE=1") && $0.contains("--model_weight_path \(ws.path)/model ")
                    && $0.contains("--model_type qwen2_vl") && $0.contains("--data_parallel_size 2")
            }, "\(log)")
        #expect(
            infers.contains {
                $0.contains("CUDA_VISIBLE_DEVICES=5 ") && $0.contains("--task PathVQA") && $0.contains("--cuda_device 1 ")
            },
            "any GPUs: the shard index is the position, not the GPU id: \(log)")
        #expect(
            log.contains("merge \(ws.path)/eval/predictions/SLAKE\n")
                && log.contains("--eval_results_dir \(ws.path)/eval/results"))
        #expect(
            log.contains(
                "score score --record --task SLAKE --predictions \(ws.path)/eval/predictions/SLAKE.jsonl --results \(ws.path)/eval/results/SLAKE.txt"
            ), "\(log)")
        #expect(log.contains("--domain-average-of SLAKE PathVQA"), "\(log)")
        #expect(!ws.exists("qa/vllm_inference/AdaptLLM"), "the shared checkout is left as it was cloned")
        let crashed = try await evaluate("CUDA_VISIBLE_DEVICES=4,5 ROWS=2 FAIL_SHARD=1", out: "eval2")
        #expect(
            crashed.hasSuffix("rc=1\n") && crashed.contains("evaluate.sh: SLAKE: shard 1 (GPU 5) failed")
                && !((try? ws.read("log")) ?? "").contains("merge "), "\(crashed)")
        let short = try await evaluate("CUDA_VISIBLE_DEVICES=0 ROWS=1 FAIL_SHARD=none", out: "eval3")
        #expect(
            short.hasSuffix("rc=1\n") && short.contains("SLAKE.jsonl has 1 rows, expected 2")
                && !((try? ws.read("log")) ?? "").contains("score "), "\(short)")
    }

    /// A workspace with stand-ins: python3 logs torch launches and creates their output directory
    /// (and, for a projector-only LLaVA stage, its mm_projector.bin unless NO_PROJECTOR is set);
    /// $WORKBENCH prints a snapshot directory for any manifest.
    func trainingWorkspace() async throws -> TempWorkspace {
        let ws = try await TempWorkspace.withCatalog()
        try ws.write(
            "stub/bin/python3",
            """
            #!/bin/sh
            case "$*" in
              *torch.distributed.launch*) echo "launch $* PYTHONPATH=$PYTHONPATH" >> "$LOG"
                out=$(echo "$*" | sed 's/.*--output_dir \\([^ ]*\\).*/\\1/'); mkdir -p "$out"
                case "$*" in *--tune_mm_mlp_adapter*) [ -n "$NO_PROJECTOR" ] || : > "$out/mm_projector.bin" ;; esac; exit 0 ;;
              *workbench_convert.llava_stage2*) echo "merge $*" >> "$LOG"
                out=$(echo "$*" | sed 's/.*--out \\([^ ]*\\).*/\\1/'); mkdir -p "$out"; exit 0 ;;
            esac
            exec /usr/bin/python3 "$@"
            """)
        try ws.write("stub/wb", "#!/bin/sh\necho \"$PWD/stub/snapshot\"\n")
        try ws.write("stub/snapshot/tokenizer.json", "{}")
        try ws.write("qa/llava/train/train_mem.py", "")
        try ws.write("factory/src/train.py", "")
        // One row in the shape LLaVA's loader asserts.
        try ws.write("captions.json", Self.row)
        try ws.write("syn/train.json", Self.row)
        try ws.write("syn/train_syn_only.json", Self.row.replacingOccurrences(of: "<image>Q", with: "<image>syn-only Q"))
        try ws.write("images/d.jpg", "d")
        try await ws.sh("chmod +x stub/bin/python3 stub/wb")
        return ws
    }

    static let row =
        #"[{"images": ["d.jpg"], "messages": [{"role": "user", "content": "<image>Q"}, {"role": "assistant", "content": "A"}]}]"#

    /// Runs a training recipe with the stand-ins on 2 GPUs; returns the launch log plus its output, and its exit code.
    func train(_ ws: TempWorkspace, _ recipe: String, _ flags: String, env: String = "") async throws -> (
        log: String, launches: [String], rc: String
    ) {
        let r = try await ws.sh(
            """
            rm -f log; \(env) LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb CUDA_VISIBLE_DEVICES=0,1 \\
              bash experiments/adamllm/recipes/\(recipe) \(flags) 2>&1; echo rc=$?
            """)
        let log = (try? ws.read("log")) ?? ""
        return (
            log + r, log.split(separator: "\n").filter { $0.hasPrefix("launch ") }.map(String.init),
            String(r.split(separator: "\n").last { $0.hasPrefix("rc=") } ?? "")
        )
    }

    static let factoryFlags =
        "--python $PWD/stub/bin/python3 --factory $PWD/factory --template qwen2_vl --base base.json --images $PWD/images --dataset-name biomed --batch 8 --accumulation 2 --deepspeed ds.json --precision bf16 --processes gpus --lr 1e-5 --freeze-vision-tower false --freeze-projector false"
    static let llavaFlags =
        "--python $PWD/stub/bin/python3 --qa $PWD/qa --vision vision.json --base base.json --images $PWD/images --batch 4 --accumulation 4 --deepspeed ds.json --precision bf16 --processes gpus --lr 2e-5"

    @Test func llamaFactoryTrainsEachStageFromThePreviousOne() async throws {
        let ws = try await trainingWorkspace()
        defer { ws.cleanup() }
        // One training file: one launch on the stage's 2 GPUs.
        let single = try await train(
            ws, "train-llama-factory.sh", Self.factoryFlags + " --stage $PWD/syn/train.json --out $PWD/o1")
        #expect(single.rc == "rc=0" && single.launches.count == 1, "\(single.log)")
        #expect(
            single.log.contains("torch.distributed.launch --use_env --nproc_per_node=2")
                && single.log.contains("--dataset biomed-stage1") && single.log.contains(" --deepspeed ds.json ")
                && single.log.contains(" --bf16 ") && single.log.contains("--output_dir \(ws.path)/o1")
                && single.log.contains("PYTHONPATH=\(ws.path)/factory/src")
                && single.log.contains(" --freeze_vision_tower false --freeze_multi_modal_projector false "), "\(single.log)")
        // The CPU rehearsal's: one process, fp32, no DeepSpeed.
        let cpu = try await train(
            ws, "train-llama-factory.sh",
            Self.factoryFlags.replacingOccurrences(
                of: "--deepspeed ds.json --precision bf16 --processes gpus",
                with: "--deepspeed none --precision fp32 --processes 1")
                + " --stage $PWD/syn/train.json --out $PWD/o3")
        #expect(
            cpu.rc == "rc=0" && cpu.launches.count == 1 && cpu.launches[0].contains("--nproc_per_node=1 ")
                && !cpu.launches[0].contains("--deepspeed") && !cpu.launches[0].contains("--bf16"), "\(cpu.log)")
        #expect(ws.exists("o1/tokenizer.json"), "the base's tokenizer files go beside the model")
        // Two: the second from the first one's output, each with its own dataset beside the output.
        let two = try await train(
            ws, "train-llama-factory.sh",
            Self.factoryFlags + " --stage $PWD/captions.json --stage $PWD/syn/train_syn_only.json --out $PWD/o2")
        #expect(two.rc == "rc=0" && two.launches.count == 2, "\(two.log)")
        #expect(
            two.launches[0].contains("--model_name_or_path \(ws.path)/stub/snapshot ")
                && two.launches[0].contains("--output_dir \(ws.path)/o2-stage1"), "\(two.log)")
        #expect(
            two.launches[1].contains("--model_name_or_path \(ws.path)/o2-stage1 ")
                && two.launches[1].contains("--output_dir \(ws.path)/o2"), "\(two.log)")
        #expect(
            try ws.read("o2-inputs/biomed-stage1.json") == Self.row
                && (try ws.read("o2-inputs/biomed-stage2.json")).contains("syn-only Q"))
        #expect(two.log.contains("--dataset_dir \(ws.path)/o2-inputs --media_dir \(ws.path)/images"), "\(two.log)")
        let info = try ws.read("o2-inputs/dataset_info.json")
        #expect(info.contains("biomed-stage1") && info.contains("biomed-stage2"))
        #expect(!ws.exists("images/dataset_info.json"), "the shared image folder is left as fetch-data made it")
        // A requeued job skips the stage that finished (LLaMA-Factory refuses a non-empty output
        // folder without checkpoints) and trains the last one again from it.
        #expect(ws.exists("o2-stage1.done") && !ws.exists("o2.done"))
        let again = try await train(
            ws, "train-llama-factory.sh",
            Self.factoryFlags + " --stage $PWD/captions.json --stage $PWD/syn/train_syn_only.json --out $PWD/o2")
        #expect(
            again.rc == "rc=0" && again.launches.count == 1
                && again.launches[0].contains("--model_name_or_path \(ws.path)/o2-stage1 ")
                && again.log.contains("training stage 1 finished in an earlier attempt"), "\(again.log)")
    }

    @Test func llavaTrainsTheProjectorFirstThenEverythingFromTheBase() async throws {
        let ws = try await trainingWorkspace()
        defer { ws.cleanup() }
        let r = try await train(
            ws, "train-llava.sh",
            Self.llavaFlags + " --stage $PWD/captions.json --stage $PWD/syn/train_syn_only.json --out $PWD/o5")
        #expect(
            r.rc == "rc=0" && r.launches.count == 2 && r.launches.allSatisfy { $0.contains("llava/train/train_mem.py") },
            "\(r.log)")
        let (first, last) = (r.launches[0], r.launches[1])
        // The pinned base and vision tower; stage 1 on the captions, the projector alone at 2e-3 (paper, Table 10).
        #expect(
            first.contains("--model_name_or_path \(ws.path)/stub/snapshot ")
                && first.contains("--vision_tower \(ws.path)/stub/snapshot ")
                && first.contains("--data_path \(ws.path)/captions.json ")
                && first.contains("--output_dir \(ws.path)/o5-stage1 "), "\(first)")
        #expect(
            first.contains("--tune_mm_mlp_adapter True ") && first.contains("--learning_rate 2e-3 ")
                && !first.contains("--unfreeze_mm_vision_tower"), "\(first)")
        // Stage 2 from the base with that projector written into its weights (a plain
        // --pretrain_mm_mlp_adapter load fails under ZeRO-3), everything trained at the catalog's rate.
        #expect(
            r.log.contains(
                "merge -m workbench_convert.llava_stage2 --base \(ws.path)/stub/snapshot --projector \(ws.path)/o5-stage1/mm_projector.bin --out \(ws.path)/o5-start"
            ), "\(r.log)")
        #expect(
            last.contains("--model_name_or_path \(ws.path)/o5-start ") && !last.contains("--pretrain_mm_mlp_adapter")
                && last.contains("--unfreeze_mm_vision_tower True --mm_vision_tower_lr 2e-6 ")
                && last.contains("--learning_rate 2e-5 ")
                && !last.contains("--tune_mm_mlp_adapter") && last.contains("--output_dir \(ws.path)/o5 ")
                && last.contains("--deepspeed ds.json --") && last.contains("--nproc_per_node=2 "), "\(last)")
        // A requeue: stage 1 finished, so it is skipped and stage 2 takes its projector.
        let requeued = try await train(
            ws, "train-llava.sh",
            Self.llavaFlags + " --stage $PWD/captions.json --stage $PWD/syn/train_syn_only.json --out $PWD/o5")
        #expect(
            requeued.rc == "rc=0" && requeued.launches.count == 1
                && requeued.launches[0].contains("--model_name_or_path \(ws.path)/o5-start ")
                && requeued.log.contains("--projector \(ws.path)/o5-stage1/mm_projector.bin --out \(ws.path)/o5-start"),
            "\(requeued.log)")
        // An interrupted projector stage's checkpoints hold only the projector: removed, not resumed.
        try ws.write("o6-stage1/checkpoint-500/mm_projector.bin", "p")
        let interrupted = try await train(
            ws, "train-llava.sh",
            Self.llavaFlags + " --stage $PWD/captions.json --stage $PWD/syn/train_syn_only.json --out $PWD/o6")
        #expect(
            interrupted.rc == "rc=0" && interrupted.launches.count == 2 && !ws.exists("o6-stage1/checkpoint-500")
                && interrupted.log.contains("removing \(ws.path)/o6-stage1/checkpoint-500"), "\(interrupted.log)")
        // A caption stage that saved no projector stops the recipe before stage 2.
        let noProjector = try await train(
            ws, "train-llava.sh", Self.llavaFlags + " --stage $PWD/captions.json --stage $PWD/syn/train.json --out $PWD/o10",
            env: "NO_PROJECTOR=1")
        #expect(
            noProjector.rc == "rc=1" && noProjector.launches.count == 1
                && noProjector.log.contains("wrote no \(ws.path)/o10-stage1/mm_projector.bin"), "\(noProjector.log)")
        // A row LLaVA's loader would assert on stops the recipe before any launch.
        try ws.write(
            "bad/train.json",
            #"[{"images": ["g.jpg"], "messages": [{"role": "user", "content": "Q <image>"}, {"role": "assistant", "content": "A"}]}]"#
        )
        let badShape = try await train(ws, "train-llava.sh", Self.llavaFlags + " --stage $PWD/bad/train.json --out $PWD/o11")
        #expect(
            badShape.rc == "rc=1" && badShape.launches.isEmpty
                && badShape.log.contains("bad/train.json: row 0: the first message must start with <image>"), "\(badShape.log)")
    }

    /// The train command the catalog plans for each model family gets past its recipe's flag check
    /// (every flag it passes is one the recipe takes, every flag it needs is given): it stops only at
    /// the training files, which no stage has written here.
    @Test func theCatalogsTrainCommandOfEachFamilyPassesItsRecipesFlags() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        let r = try await ws.wb("plan", "table-4", "--json")
        let stages =
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        for model in ["llava-v1.6-8b", "qwen2-vl-2b", "llama-3.2-11b"] {
            let train = try #require(
                stages.first { ($0["name"] as! String).hasPrefix("train@model=\(model),source=pmc-refined,pipeline=two") })
            let out = try await ws.sh("(\(train["command"] as! String)) 2>&1; echo rc=$?")
            #expect(
                out.contains("training stage 1: ") && out.contains("does not exist") && out.hasSuffix("rc=2\n")
                    && !out.contains("unknown flag") && !out.contains("is required"), "\(model): \(out)")
        }
    }

    @Test func recipesRefuseWhatTheyAreNotGivenBeforeAnyLaunch() async throws {
        let ws = try await trainingWorkspace()
        defer { ws.cleanup() }
        let towerless = try await train(
            ws, "train-llava.sh",
            Self.llavaFlags.replacingOccurrences(of: "--vision vision.json ", with: "")
                + " --stage $PWD/syn/train.json --out $PWD/o7")
        #expect(
            towerless.rc == "rc=2" && towerless.log.contains("train-llava.sh: --vision is required")
                && towerless.launches.isEmpty, "\(towerless.log)")
        let missing = try await train(
            ws, "train-llama-factory.sh",
            Self.factoryFlags + " --stage $PWD/captions.json --stage $PWD/syn/absent.json --out $PWD/o8")
        #expect(
            missing.rc == "rc=2" && missing.log.contains("training stage 2: \(ws.path)/syn/absent.json does not exist")
                && missing.launches.isEmpty, "\(missing.log)")
        let none = try await train(ws, "train-llama-factory.sh", Self.factoryFlags + " --out $PWD/o9")
        #expect(none.rc == "rc=2" && none.log.contains("no training file (--stage FILE"), "\(none.log)")
        let unknown = try await train(
            ws, "train-llama-factory.sh", Self.factoryFlags + " --stage $PWD/captions.json --out $PWD/o12 --epochs 3")
        #expect(
            unknown.rc == "rc=2"
                && unknown.log.contains("unknown flag --epochs (flags: --stage, --python --factory --base --template")
                && unknown.launches.isEmpty, "\(unknown.log)")
        for (flags, message) in [
            ("--precision bf16", "--precision fp16: bf16 or fp32"), ("--processes gpus", "--processes all: 'gpus' or a number"),
            ("--python $PWD/stub/bin/python3", "--python \(ws.path)/nowhere/python is not an executable interpreter"),
            ("--freeze-projector false", "--freeze-projector no: true or false"),
        ] {
            let wrong =
                flags.hasPrefix("--freeze")
                ? "--freeze-projector no"
                : flags.hasPrefix("--precision")
                    ? "--precision fp16" : flags.hasPrefix("--processes") ? "--processes all" : "--python $PWD/nowhere/python"
            let r = try await train(
                ws, "train-llama-factory.sh",
                Self.factoryFlags.replacingOccurrences(of: flags, with: wrong) + " --stage $PWD/captions.json --out $PWD/o13")
            #expect(r.rc == "rc=2" && r.log.contains(message) && r.launches.isEmpty, "\(r.log)")
        }
        // LLaVA has no CPU path: its recipe takes the paper's bf16 and DeepSpeed only.
        let llavaCPU = try await train(
            ws, "train-llava.sh",
            Self.llavaFlags.replacingOccurrences(of: "--precision bf16", with: "--precision fp32")
                + " --stage $PWD/syn/train.json --out $PWD/o14")
        #expect(
            llavaCPU.rc == "rc=2" && llavaCPU.log.contains("LLaVA trains in bf16 only") && llavaCPU.launches.isEmpty,
            "\(llavaCPU.log)")
        let positional = try await train(ws, "train-llama-factory.sh", "qwen2-vl single ours")
        #expect(
            positional.rc == "rc=2"
                && positional.log.contains("unexpected argument 'qwen2-vl' (every value comes as --NAME VALUE)"),
            "\(positional.log)")
    }
}
