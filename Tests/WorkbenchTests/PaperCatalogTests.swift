import Foundation
import TestSupport
import Testing

/// The paper catalog (experiments/adamllm) through the built binary: the empty tables in the
/// paper's layout, and the planned commands of one cell per model family pinned.
@Suite(.serialized) struct PaperCatalogTests {
    func workspace() async throws -> TempWorkspace { try await TempWorkspace.withCatalog() }

    @Test func emptyTablesRenderInThePapersLayout() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        for table in ["table-2", "table-3", "table-4", "table-5", "table-15", "table-2-v1-gpt4o"] {
            let r = try await ws.wb("report", table)
            #expect(r.status == 0, "\(table): \(r.stderr)")
            try assertGolden(r.stdout, "adamllm-\(table).md")
        }
    }

    @Test func plannedCommandsPerModelFamily() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let r = try await ws.wb("plan", "table-4", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let stages = doc["stages"] as! [[String: Any]]
        var text = ""
        for model in ["llava-v1.6-8b", "qwen2-vl-2b", "llama-3.2-11b"] {
            for kind in model == "llava-v1.6-8b" ? ["fetch-data", "fetch-benchmark", "fetch-model", "fetch-vision", "fetch-synthesizer", "synthesize", "train", "evaluate"] : ["fetch-model", "train", "evaluate"] {
                let wanted = kind == "synthesize" ? "synthesize@source=pmc-refined,data=ours"
                    : kind == "fetch-synthesizer" ? "fetch-synthesizer@data=ours"
                    : kind == "fetch-data" ? "fetch-data@source=pmc-refined"
                    : kind == "fetch-benchmark" ? "fetch-benchmark@domain=biomed"
                    : kind == "fetch-vision" ? "fetch-vision@model=\(model)"
                    : kind == "fetch-model" ? "fetch-model@model=\(model)"
                    : "\(kind)@model=\(model),source=pmc-refined,pipeline=single,ablation=ours,domain=biomed,data=ours"
                guard let s = stages.first(where: { $0["name"] as? String == wanted }) else {
                    Issue.record("no stage \(wanted) in the plan of table-4")
                    continue
                }
                let resources = s["resources"] as! [String: Any]
                let command = (s["command"] as! String).replacingOccurrences(of: ws.path, with: "$WORKSPACE")
                    .replacingOccurrences(of: #"/[0-9a-f]{16}/"#, with: "/<fp>/", options: .regularExpression)
                text += "## \(wanted)\ngpus: \(resources["gpus"]!)"
                if let h = resources["estimatedHours"] { text += ", estimated hours: \(h)" }
                text += "\n\(command)\n\n"
            }
        }
        try assertGolden(text, "adamllm-table-4-commands.txt")
        let summary = doc["summary"] as! [String: Any]
        #expect((summary["gpuHoursToRun"] as! Double) > 0)
        // The Qwen2-VL-2B PMCRefined single-stage training feeds Table 2, 4 and 15: one node.
        let t2 = try await ws.wb("plan", "table-2", "--json")
        let t2stages = (try JSONSerialization.jsonObject(with: Data(t2.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let name = "train@model=qwen2-vl-2b,source=pmc-refined,pipeline=single,ablation=ours,domain=biomed,data=ours"
        let fp4 = stages.first { $0["name"] as? String == name }?["fingerprint"] as? String
        let fp2 = t2stages.first { $0["name"] as? String == name }?["fingerprint"] as? String
        #expect(fp4 != nil && fp4 == fp2)
    }

    /// Table 5's ablations that train on other data than the source's: the seed data, its
    /// filtered general tasks, the synthesizer tuned without blank images and its synthesis.
    @Test func plannedCommandsOfTheAblationStages() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let r = try await ws.wb("plan", "table-5", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let stages = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let cell = "model=llava-v1.6-8b,source=pmc-raw,pipeline=single,ablation=%@,domain=biomed,data=ours"
        var text = ""
        for wanted in ["fetch-seed@ablation=general-tasks,data=ours", "filter-seed@ablation=general-tasks,data=ours",
                       "tune-synthesizer@model=llava-v1.6-8b,ablation=no-blank-image,data=ours",
                       "synthesize-tuned@model=llava-v1.6-8b,source=pmc-raw,ablation=no-blank-image,data=ours"]
            + ["general-tasks", "general-tasks-caption", "no-blank-image"].map { "train@" + String(format: cell, $0) } {
            guard let s = stages.first(where: { $0["name"] as? String == wanted }) else {
                Issue.record("no stage \(wanted) in the plan of table-5")
                continue
            }
            let command = (s["command"] as! String).replacingOccurrences(of: ws.path, with: "$WORKSPACE")
                .replacingOccurrences(of: #"/[0-9a-f]{16}/"#, with: "/<fp>/", options: .regularExpression)
            text += "## \(wanted)\ngpus: \((s["resources"] as! [String: Any])["gpus"]!)\n\(command)\n\n"
        }
        try assertGolden(text, "adamllm-table-5-ablation-commands.txt")
        // General tasks do not depend on the domain: the biomedicine and food cells train one model.
        let general = stages.filter { ($0["name"] as? String)?.hasPrefix("train@") == true && ($0["name"] as? String)?.contains("ablation=general-tasks,") == true }
        #expect(general.count == 1 && ((general.first?["aliases"] as? [String]) ?? []).contains { $0.contains("source=recipe1m") }, "\(general)")
    }

    @Test func tablesListsSizesAndCellsFilterPlans() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let r = try await ws.wb("tables", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        let t4 = try #require(entries.first { $0["table"] as? String == "table-4" })
        #expect(t4["cells"] as? Int == 36 && t4["stages"] as? Int == 87, "\(t4)")   // + one fetch-model per base model, one fetch-data per training source (5), one fetch-benchmark per domain, LLaVA's fetch-vision, one fetch-synthesizer (the synthesizer and the checker)
        // Table 11's hours: 8 GPUs x the training hours of the 36 post-trained cells' trainings.
        #expect(t4["gpuHoursToRun"] as? Double == 4080)
        let gpt = try #require(entries.first { $0["table"] as? String == "table-2-v1-gpt4o" })
        #expect(gpt["cells"] as? Int == 0 && gpt["referenceOnlyRows"] as? Int == 1)
        let one = try await ws.wb("plan", "table-4", "--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours")
        #expect(one.status == 0 && one.stdout.contains("7 stage(s): 0 cached, 7 to run"), "\(one.stdout)\(one.stderr)")
        let bad = try await ws.wb("plan", "table-4", "--cells", "row=gpt-5")
        #expect(bad.status == 64 && bad.stderr.contains("rows: llava-v1.6-8b, qwen2-vl-2b, llama-3.2-11b"))
    }

    @Test func releasedCheckpointsReplaceTrainingWhereTheyExist() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let r = try await ws.wb("plan", "table-2", "--released", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let stages = doc["stages"] as! [[String: Any]]
        #expect(doc["profile"] as? String == "paper-released")
        let names = stages.map { $0["name"] as! String }
        // The released biomed models were trained on PMCRefined: those cells are evaluation only.
        #expect(!names.contains { $0.hasPrefix("train@") && $0.contains("source=pmc-refined") })
        #expect(!names.contains("synthesize@source=pmc-refined"))
        let eval = stages.first { $0["name"] as? String == "evaluate@model=qwen2-vl-2b,source=pmc-refined,pipeline=single,ablation=ours,domain=biomed,data=ours" }
        // It evaluates the released checkpoint at its pinned revision: the fetch-released stage's manifest.
        let fetch = stages.first { $0["name"] as? String == "fetch-released@model=qwen2-vl-2b,domain=biomed" }
        #expect((fetch?["command"] as? String)?.hasPrefix("\"$WORKBENCH\" fetch AdaptLLM/biomed-Qwen2-VL-2B-Instruct@ --manifest ") == true, "\(String(describing: fetch))")
        let manifest = ((fetch?["outputs"] as? [[String: Any]])?.first?["value"] as? String) ?? "?"
        #expect((eval?["command"] as? String)?.contains(" \(manifest) med qwen2_vl ") == true, "\(String(describing: eval?["command"]))")
        #expect(names.filter { $0.hasPrefix("fetch-released@") }.count == 3)
        // Its revision is required where the model writes it (the domain's attribute points there).
        let run = try await ws.wb("run", "table-2", "--released")
        #expect(run.status == 65 && run.stderr.contains("catalog/models.yaml:43:33: axes.model.qwen2-vl-2b.released_biomed_revision: empty, but profile 'paper-released' needs it filled in (used by fetch-released@model=qwen2-vl-2b,domain=biomed)"), "\(run.stderr)")
        // PMCRaw has no released model: still trained, with the same fingerprint as in the paper profile.
        let paper = try await ws.wb("plan", "table-2", "--json")
        let paperStages = (try JSONSerialization.jsonObject(with: Data(paper.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let name = "train@model=qwen2-vl-2b,source=pmc-raw,pipeline=single,ablation=ours,domain=biomed,data=ours"
        #expect(stages.first { $0["name"] as? String == name }?["fingerprint"] as? String
                == paperStages.first { $0["name"] as? String == name }?["fingerprint"] as? String)
        #expect(stages.count < paperStages.count)
        let smoke = try await ws.wb("plan", "smoke", "--released")
        #expect(smoke.status == 64 && smoke.stderr.contains("no released variant of profile 'smoke'"))
    }

    /// The smoke profile: every stage of every table through the CPU stand-ins (recipes/smoke.sh),
    /// no GPU, no upstream code to clone, no revision required; the paper's stages are untouched.
    @Test func theSmokeProfilePlansEveryTableOnTheStandIns() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        for table in ["table-2", "table-3", "table-4", "table-15", "table-15-food", "table-5"] {
            let r = try await ws.wb("plan", table, "--profile", "smoke", "--json")
            #expect(r.status == 0, "\(table): \(r.stderr)")
            let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            let stages = doc["stages"] as! [[String: Any]]
            for s in stages {
                let command = s["command"] as! String
                #expect(command.hasPrefix("bash \(ws.path)/experiments/adamllm/recipes/smoke.sh .venv-ml/bin/python "), "\(table): \(command)")
                #expect((s["resources"] as! [String: Any])["gpus"] as? Int == 0)
            }
            #expect((doc["summary"] as! [String: Any])["gpus"] as? Int == 0)
        }
        // Table 5's ablations each train on their own stand-in data; the general rows evaluate an untrained model.
        let t5 = try await ws.wb("plan", "table-5", "--profile", "smoke", "--json")
        let t5stages = (try JSONSerialization.jsonObject(with: Data(t5.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let trains = t5stages.filter { ($0["name"] as! String).hasPrefix("train@") }
        #expect(trains.count == 18 && trains.allSatisfy { ($0["command"] as! String).contains(" train ours ") }, "\(trains.count)")
        // A run needs no revision and clones nothing: the refusal of the paper profile does not apply.
        let dry = try await ws.wbArgs(["plan", "table-4", "--profile", "smoke", "--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours"])
        #expect(dry.status == 0 && !dry.stdout.contains("not runnable yet"), "\(dry.stdout)")
        // The paper profile's fingerprints do not change with the smoke profile's overrides.
        let paper = try await ws.wb("plan", "table-4", "--json")
        #expect((try JSONSerialization.jsonObject(with: Data(paper.stdout.utf8)) as! [String: Any])["profile"] as? String == "paper")
        let unknown = try await ws.wb("plan", "table-4", "--profile", "smoky")
        #expect(unknown.status != 0 && unknown.stderr.contains("smoke"), "\(unknown.stderr)")
    }

    @Test func emptyRevisionsAreRefusedForThePaperProfile() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let cells = ["--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours"]
        let plan = try await ws.wbArgs(["plan", "table-4"] + cells)
        #expect(plan.status == 0 && plan.stdout.contains("not runnable yet: 6 required value(s) are empty"), "\(plan.stdout)")
        // The data's repositories are pinned too: PMCRefined's pairs and, in another repository, its images.
        #expect(plan.stdout.contains("catalog/sources.yaml:123:24: axes.source.pmc-refined.images_revision: empty, but profile 'paper' needs it filled in (used by fetch-data@source=pmc-refined)"), "\(plan.stdout)")
        let run = try await ws.wbArgs(["run", "table-4"] + cells)
        #expect(run.status == 65)
        #expect(run.stderr.contains("experiments/adamllm/catalog/models.yaml:40:17: axes.model.qwen2-vl-2b.revision: empty, but profile 'paper' needs it filled in"), "\(run.stderr)")
        #expect(run.stderr.contains("hint: write the hub commit"))
        #expect(!ws.exists(".workbench/runs"), "nothing starts")
        // Filled in, the same selection passes the check (and would run on a GPU node).
        try await ws.sh("sed -i -E 's/^      (images_|captions_|vision_tower_)?revision: \"\"/      \\1revision: \"0123456789abcdef0123456789abcdef01234567\"/' experiments/adamllm/catalog/models.yaml experiments/adamllm/catalog/sources.yaml && sed -i -E 's/(benchmark|synthesizer|checker)_revision: \"\"/\\1_revision: \"0123456789abcdef0123456789abcdef01234567\"/' experiments/adamllm/catalog/axes.yaml")
        let pinned = try await ws.wbArgs(["plan", "table-4"] + cells)
        #expect(pinned.status == 0 && !pinned.stdout.contains("not runnable yet"), "\(pinned.stdout)")
    }

    /// evaluate.sh runs the upstream inference in a private view of the checkout whose working
    /// directory shows the pinned benchmark snapshot under the hub name the upstream code loads.
    @Test func evaluateShowsTheUpstreamInferenceThePinnedBenchmark() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        // A stand-in checkout: run_inference.sh reads what the real one reads (the benchmark by its
        // hub name, ../process, ./utils) and writes predictions and results files per task.
        try ws.write("qa/process/syn_utils.py", "hint = 1\n")
        try ws.write("qa/vllm_inference/utils/map.json", "{}")
        try ws.write("qa/vllm_inference/run_inference.sh", """
            set -e
            cat AdaptLLM/biomed-VQA-benchmark/SLAKE/test.txt ../process/syn_utils.py ./utils/map.json > "$4/seen.txt"
            echo "$1 $2 $3 HF_DATASETS_OFFLINE=$HF_DATASETS_OFFLINE" >> "$4/seen.txt"
            for t in SLAKE PathVQA; do echo '{}' > "$4/$t.jsonl"; echo '{}' > "$5/$t.txt"; done
            """)
        try ws.write("snap/bench/SLAKE/test.txt", "pinned rows\n")
        try ws.write("bench.json", #"{"repo": "AdaptLLM/biomed-VQA-benchmark", "kind": "dataset", "commit": "0123456789abcdef0123456789abcdef01234567"}"#)
        try ws.write("stub/wb", """
            #!/bin/sh
            case "$1" in
              fetch) echo "$PWD/snap/bench" ;;
              score) echo "score $*" >> "$PWD/log" ;;
            esac
            """)
        try await ws.sh("chmod +x stub/wb && mkdir -p model")
        let r = try await ws.sh("""
            WORKBENCH=$PWD/stub/wb bash experiments/adamllm/recipes/evaluate.sh $PWD/qa $PWD/model med qwen2_vl $PWD/bench.json $PWD/eval SLAKE PathVQA 2>&1; echo rc=$?
            """)
        #expect(r.hasSuffix("rc=0\n"), "\(r)")
        #expect(try ws.read("eval/predictions/seen.txt") == "pinned rows\nhint = 1\n{}\(ws.path)/model med qwen2_vl HF_DATASETS_OFFLINE=1\n")
        let log = try ws.read("log")
        #expect(log.contains("score score --record --task SLAKE --predictions \(ws.path)/eval/predictions/SLAKE.jsonl --results \(ws.path)/eval/results/SLAKE.txt"), "\(log)")
        #expect(log.contains("--domain-average-of SLAKE PathVQA"), "\(log)")
        #expect(!ws.exists("qa/vllm_inference/AdaptLLM"), "the shared checkout is left as it was cloned")
    }

    /// train.sh's control flow with stand-ins for the upstream programs (no GPU here): which data
    /// each pipeline and ablation trains on, stage 2 starting from stage 1, and clear refusals.
    @Test func trainRecipesPickTheirDataAndStages() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        // Stand-ins: python3 logs torch launches and creates their output directory; the upstream
        // format script writes its output; $WORKBENCH prints a snapshot directory.
        try ws.write("stub/bin/python3", """
            #!/bin/sh
            case "$*" in
              *torch.distributed.launch*) echo "launch $*" >> "$LOG"
                out=$(echo "$*" | sed 's/.*--output_dir \\([^ ]*\\).*/\\1/'); mkdir -p "$out"
                case "$*" in *--tune_mm_mlp_adapter*) [ -n "$NO_PROJECTOR" ] || : > "$out/mm_projector.bin" ;; esac; exit 0 ;;
              *workbench_data.post_train*) echo "format $*" >> "$LOG"; [ -z "$FAIL_FORMAT" ] || exit 1
                out=$(echo "$*" | sed 's/.*--out \\([^ ]*\\).*/\\1/'); cp "$ROW" "$out"; exit 0 ;;
            esac
            exec /usr/bin/python3 "$@"
            """)
        try ws.write("stub/wb", "#!/bin/sh\necho \"$PWD/stub/snapshot\"\n")
        try ws.write("qa/vllm_inference/.keep", "")
        try ws.write("factory/src/train.py", "")
        try ws.write("syn/filtered_task_pairs.jsonl", "{}\n")
        // One row in the shape LLaVA's loader asserts (train.sh checks it before launching).
        let row = #"[{"images": ["d.jpg"], "messages": [{"role": "user", "content": "<image>Q"}, {"role": "assistant", "content": "A"}]}]"#
        try ws.write("row.json", row)
        try ws.write("syn/image_caption_and_synthetic_task.json", row)
        try ws.write("syn/train_syn_only.json", row.replacingOccurrences(of: "<image>Q", with: "<image>syn-only Q"))
        try ws.write("captions.json", row)
        try ws.write("images/d.jpg", "d")
        try await ws.sh("chmod +x stub/bin/python3 stub/wb && mkdir -p stub/snapshot")
        func train(_ family: String, _ pipeline: String, _ ablation: String, out: String, vision: String = "-") async throws -> (log: String, rc: String) {
            let r = try await ws.sh("""
                rm -f log; ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb CUDA_VISIBLE_DEVICES=0,1 \\
                  bash experiments/adamllm/recipes/train.sh \(family) \(pipeline) \(ablation) biomed $PWD/syn/image_caption_and_synthetic_task.json \\
                  $PWD/images $PWD/\(out) $PWD/qa $PWD/factory base.json qwen2_vl 8 2 ds.json 1e-5 $PWD/captions.json \(vision) 2>&1; echo rc=$?
                """)
            let log = (try? ws.read("log")) ?? ""
            return (log + r, String(r.split(separator: "\n").last { $0.hasPrefix("rc=") } ?? ""))
        }
        // Single-stage: the synthesis output's training file, one launch on the stage's 2 GPUs.
        let single = try await train("qwen2-vl", "single", "ours", out: "o1")
        #expect(single.rc == "rc=0" && single.log.split(separator: "\n").filter { $0.hasPrefix("launch ") }.count == 1, "\(single.log)")
        #expect(single.log.contains("--nproc_per_node=2") && single.log.contains("--dataset biomed-stage1") && single.log.contains("--output_dir \(ws.path)/o1"), "\(single.log)")
        // Two-stage: captions first, then the synthesized tasks alone (the synthesis output's
        // train_syn_only.json, written once by synthesize.sh), from stage 1's model.
        let two = try await train("qwen2-vl", "two", "ours", out: "o2")
        #expect(two.rc == "rc=0" && two.log.split(separator: "\n").filter { $0.hasPrefix("launch ") }.count == 2, "\(two.log)")
        let stage2 = try ws.read("o2-inputs/biomed-stage2.json")
        #expect(!two.log.contains("format ") && stage2.contains("syn-only Q"), "\(two.log)")
        #expect(two.log.contains("--output_dir \(ws.path)/o2-stage1") && two.log.contains("--model_name_or_path \(ws.path)/o2-stage1"), "\(two.log)")
        #expect(try ws.read("o2-inputs/biomed-stage1.json") == row && ws.exists("o2-inputs/biomed-stage2.json"))
        #expect(two.log.contains("--dataset_dir \(ws.path)/o2-inputs --media_dir \(ws.path)/images"), "\(two.log)")
        #expect(!ws.exists("images/dataset_info.json"), "the shared image folder is left as fetch-data made it")
        let info = try ws.read("o2-inputs/dataset_info.json")
        #expect(info.contains("biomed-stage1") && info.contains("biomed-stage2"))
        // Ablations: caption-only trains on the captions; synthetic-only on the syn-only file.
        let caption = try await train("llama-3.2-vision", "single", "caption-only", out: "o3")
        #expect(caption.rc == "rc=0" && caption.log.split(separator: "\n").filter { $0.hasPrefix("launch ") }.count == 1, "\(caption.log)")
        let synthetic = try await train("llama-3.2-vision", "single", "synthetic-only", out: "o4")
        let syntheticData = (try? ws.read("o4-inputs/biomed-stage1.json")) ?? ""
        #expect(synthetic.rc == "rc=0" && syntheticData.contains("syn-only Q"), "\(synthetic.log)")
        // A failing formatting step stops the recipe before any training starts (LLaVA copies no
        // file first, so nothing else would stop it).
        let failing = try await ws.sh("""
            rm -f log; FAIL_FORMAT=1 ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb CUDA_VISIBLE_DEVICES=0,1 \\
              bash experiments/adamllm/recipes/train.sh llava single no-filter-precise biomed $PWD/syn/image_caption_and_synthetic_task.json \\
              $PWD/images $PWD/o9 $PWD/qa $PWD/factory base.json - 4 4 ds.json 2e-5 $PWD/captions.json vision.json 2>&1; echo rc=$?
            """)
        #expect(failing.hasSuffix("rc=1\n") && !((try? ws.read("log")) ?? "").contains("launch "), "\(failing)")
        // Refusals, each saying why (exit 2).
        // LLaVA: upstream train_mem.py with the pinned base and vision tower; two stages, the second from the first.
        let llava = try await train("llava", "two", "ours", out: "o5", vision: "vision.json")
        let launches = llava.log.split(separator: "\n").filter { $0.hasPrefix("launch ") }
        #expect(llava.rc == "rc=0" && launches.count == 2 && launches.allSatisfy { $0.contains("llava/train/train_mem.py") }, "\(llava.log)")
        #expect(launches.first?.contains("--model_name_or_path \(ws.path)/stub/snapshot ") == true
                && launches.first?.contains("--vision_tower \(ws.path)/stub/snapshot ") == true
                && launches.first?.contains("--data_path \(ws.path)/captions.json ") == true
                && launches.first?.contains("--output_dir \(ws.path)/o5-stage1 ") == true, "\(llava.log)")
        // Stage 1 trains the projector alone at 2e-3 (paper, Table 10); stage 2 starts from the base
        // with that projector and trains everything at the catalog's rate.
        #expect(launches.first?.contains("--tune_mm_mlp_adapter True ") == true && launches.first?.contains("--learning_rate 2e-3 ") == true
                && launches.first?.contains("--unfreeze_mm_vision_tower") == false, "\(llava.log)")
        #expect(launches.last?.contains("--model_name_or_path \(ws.path)/stub/snapshot --pretrain_mm_mlp_adapter \(ws.path)/o5-stage1/mm_projector.bin ") == true
                && launches.last?.contains("--unfreeze_mm_vision_tower True --mm_vision_tower_lr 2e-6 ") == true
                && launches.last?.contains("--learning_rate 1e-5 ") == true && launches.last?.contains("--tune_mm_mlp_adapter") == false
                && launches.last?.contains("--output_dir \(ws.path)/o5 ") == true
                && launches.last?.contains("--deepspeed ds.json --") == true && launches.last?.contains("--nproc_per_node=2 ") == true, "\(llava.log)")
        // A caption stage that saved no projector stops the recipe before stage 2.
        let noProjector = try await ws.sh("""
            rm -f log; NO_PROJECTOR=1 ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb CUDA_VISIBLE_DEVICES=0,1 \\
              bash experiments/adamllm/recipes/train.sh llava two ours biomed $PWD/syn/image_caption_and_synthetic_task.json \\
              $PWD/images $PWD/o10 $PWD/qa $PWD/factory base.json - 4 4 ds.json 2e-5 $PWD/captions.json vision.json 2>&1; echo rc=$?
            """)
        #expect(noProjector.contains("wrote no \(ws.path)/o10-stage1/mm_projector.bin") && noProjector.hasSuffix("rc=1\n")
                && ((try? ws.read("log")) ?? "").split(separator: "\n").filter { $0.hasPrefix("launch ") }.count == 1, "\(noProjector)")
        let towerless = try await train("llava", "single", "ours", out: "o7")
        #expect(towerless.rc == "rc=2" && towerless.log.contains("LLaVA needs its vision tower"), "\(towerless.log)")
        // Without the consistency filter: every collected question with its precise (informative) answer.
        for which in ["precise", "informative"] {
            let r = try await train("qwen2-vl", "single", "no-filter-\(which)", out: "o6-\(which)")
            #expect(r.rc == "rc=0" && r.log.contains("--answers \(which)") && r.log.contains("--out \(ws.path)/o6-\(which)-inputs/no_filter_\(which).json")
                    && !r.log.contains("--syn-only") && r.log.split(separator: "\n").filter { $0.hasPrefix("launch ") }.count == 1, "\(r.log)")
        }
        // Not synthesized (a baseline's data): no synthesis output to take the variant from.
        try await ws.sh("mkdir -p base && echo '[]' > base/instructions.json")
        let unsynthesized = try await ws.sh("""
            ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb bash experiments/adamllm/recipes/train.sh qwen2-vl single synthetic-only biomed \\
              $PWD/base/instructions.json $PWD/images $PWD/o8 $PWD/qa $PWD/factory base.json qwen2_vl 8 2 ds.json 1e-5 $PWD/captions.json 2>&1; echo rc=$?
            """)
        #expect(unsynthesized.contains("needs the synthesis output's train_syn_only.json") && unsynthesized.hasSuffix("rc=2\n"), "\(unsynthesized)")
        let unfiltered = try await ws.sh("""
            ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb bash experiments/adamllm/recipes/train.sh qwen2-vl single no-filter-precise biomed \\
              $PWD/base/instructions.json $PWD/images $PWD/o8 $PWD/qa $PWD/factory base.json qwen2_vl 8 2 ds.json 1e-5 $PWD/captions.json 2>&1; echo rc=$?
            """)
        #expect(unfiltered.contains("needs the synthesis output's filtered_task_pairs.jsonl") && unfiltered.hasSuffix("rc=2\n"), "\(unfiltered)")
        // General tasks (filter-seed's train.json, its images beside it): trained on as they are,
        // or mixed with the domain's captions into one file naming every image absolutely.
        try ws.write("gen/train.json", row.replacingOccurrences(of: "d.jpg", with: "g.jpg"))
        try ws.write("gen/images/g.jpg", "g")
        func general(_ ablation: String, out: String, family: String = "qwen2-vl", vision: String = "-") async throws -> (log: String, rc: String) {
            let r = try await ws.sh("""
                rm -f log; ROW=$PWD/row.json LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb CUDA_VISIBLE_DEVICES=0 \\
                  bash experiments/adamllm/recipes/train.sh \(family) single \(ablation) general $PWD/gen/train.json \\
                  $PWD/\(ablation == "general-tasks" ? "gen/images" : "images") $PWD/\(out) $PWD/qa $PWD/factory base.json qwen2_vl 8 2 ds.json 1e-5 \(ablation == "general-tasks" ? "-" : "$PWD/captions.json") \(vision) 2>&1; echo rc=$?
                """)
            return (((try? ws.read("log")) ?? "") + r, String(r.split(separator: "\n").last { $0.hasPrefix("rc=") } ?? ""))
        }
        let tasks = try await general("general-tasks", out: "g1", family: "llava", vision: "vision.json")
        #expect(tasks.rc == "rc=0" && tasks.log.contains("--data_path \(ws.path)/gen/train.json --image_folder \(ws.path)/gen/images "), "\(tasks.log)")
        let mixed = try await general("general-tasks-caption", out: "g2")
        #expect(mixed.rc == "rc=0" && mixed.log.contains("--dataset general-stage1 "), "\(mixed.log)")
        let rows = try ws.read("g2-inputs/general-stage1.json")
        #expect(rows.contains("\"\(ws.path)/gen/images/g.jpg\"") && rows.contains("\"\(ws.path)/images/d.jpg\""), "\(rows)")
        // LLaVA: a row its loader would assert on stops the recipe before any launch.
        try ws.write("bad/train.json", #"[{"images": ["g.jpg"], "messages": [{"role": "user", "content": "Q <image>"}, {"role": "assistant", "content": "A"}]}]"#)
        let badShape = try await ws.sh("""
            rm -f log; LOG=$PWD/log PATH=$PWD/stub/bin:$PATH WORKBENCH=$PWD/stub/wb bash experiments/adamllm/recipes/train.sh llava single ours biomed \\
              $PWD/bad/train.json $PWD/images $PWD/o11 $PWD/qa $PWD/factory base.json - 4 4 ds.json 2e-5 $PWD/captions.json vision.json 2>&1; echo rc=$?
            """)
        #expect(badShape.contains("bad/train.json: row 0: the first message must start with <image>") && badShape.hasSuffix("rc=1\n")
                && ((try? ws.read("log")) ?? "").contains("launch ") == false, "\(badShape)")
        let unknown = try await train("qwen2-vl", "two", "general-tasks", out: "o12")
        #expect(unknown.rc == "rc=2" && unknown.log.contains("has no recipe"), "\(unknown.log)")
        let family = try await ws.sh("bash experiments/adamllm/recipes/train.sh gpt single ours biomed d i o q f b t 1 1 ds 1e-5 c 2>&1; echo rc=$?")
        #expect(family.contains("no recipe for model family 'gpt'") && family.contains("rc=2"), "\(family)")
    }
}
