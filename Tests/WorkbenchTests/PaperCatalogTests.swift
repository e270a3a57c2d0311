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
        for table in ["table-2", "table-3", "table-4", "table-5", "table-15", "table-15-food", "table-2-v1-gpt4o"] {
            let r = try await ws.wb("report", table)
            #expect(r.status == 0, "\(table): \(r.stderr)")
            try assertGolden(r.stdout, "adamllm-\(table).md")
            // The paper's grouped header in LaTeX (\multicolumn, \cmidrule) and HTML (colspan).
            let tex = try await ws.wb("report", table, "--format", "tex")
            #expect(tex.status == 0, "\(table): \(tex.stderr)")
            try assertGolden(tex.stdout, "adamllm-\(table).tex")
            let html = try await ws.wb("report", table, "--format", "html")
            let thead = html.stdout.components(separatedBy: "<thead>").dropFirst().first?.components(separatedBy: "</thead>")
                .first
            try assertGolden((thead ?? "no <thead> in the page") + "\n", "adamllm-\(table).thead.html")
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
            for kind in model == "llava-v1.6-8b"
                ? [
                    "fetch-data", "fetch-benchmark", "fetch-model", "fetch-vision", "fetch-synthesizer", "synthesize", "train",
                    "convert-llava", "evaluate",
                ] : ["fetch-model", "train", "evaluate"]
            {
                let wanted =
                    kind == "synthesize"
                    ? "synthesize@source=pmc-refined,data=ours"
                    : kind == "fetch-synthesizer"
                        ? "fetch-synthesizer@data=ours"
                        : kind == "fetch-data"
                            ? "fetch-data@source=pmc-refined"
                            : kind == "fetch-benchmark"
                                ? "fetch-benchmark@domain=biomed"
                                : kind == "fetch-vision"
                                    ? "fetch-vision@model=\(model)"
                                    : kind == "fetch-model"
                                        ? "fetch-model@model=\(model)"
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
        let t2stages =
            (try JSONSerialization.jsonObject(with: Data(t2.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
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
        for wanted in [
            "fetch-seed@ablation=general-tasks,data=ours", "filter-seed@ablation=general-tasks,data=ours",
            "tune-synthesizer@model=llava-v1.6-8b,ablation=no-blank-image,data=ours",
            "convert-synthesizer@model=llava-v1.6-8b,ablation=no-blank-image,data=ours",
            "synthesize-tuned@model=llava-v1.6-8b,source=pmc-raw,ablation=no-blank-image,data=ours",
            "train-data@source=pmc-raw,ablation=general-tasks-caption,data=ours",
            "train-data@source=pmc-raw,ablation=no-filter-precise,data=ours",
        ]
            + ["general-tasks", "general-tasks-caption", "no-blank-image", "no-filter-precise"].map({
                "train@" + String(format: cell, $0)
            })
        {
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
        let general = stages.filter {
            ($0["name"] as? String)?.hasPrefix("train@") == true
                && ($0["name"] as? String)?.contains("ablation=general-tasks,") == true
        }
        #expect(
            general.count == 1 && ((general.first?["aliases"] as? [String]) ?? []).contains { $0.contains("source=recipe1m") },
            "\(general)")
    }

    @Test func tablesListsSizesAndCellsFilterPlans() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let r = try await ws.wb("tables", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        let t4 = try #require(entries.first { $0["table"] as? String == "table-4" })
        // Stages: the cells' trainings and evaluations, plus one fetch-model per base model, one
        // fetch-data per training source (6: LLaVA-Med's and LLaVA-Chef's are two, now that their
        // files are named), one fetch-benchmark per domain, LLaVA's fetch-vision, one
        // fetch-synthesizer (the synthesizer and the checker), the three environments (vLLM,
        // LLaVA, LLaMA-Factory), and one convert-llava per LLaVA cell (12: vLLM cannot load
        // LLaVA's training layout, the base's included).
        #expect(t4["cells"] as? Int == 36 && t4["stages"] as? Int == 103, "\(t4)")
        #expect(t4["hubRepositories"] as? Int == 13 && t4["unlocked"] as? Int == 13, "\(t4)")
        // Table 11's hours: 8 GPUs x the training hours of the 36 post-trained cells' trainings.
        #expect(t4["gpuHoursToRun"] as? Double == 4080)
        let gpt = try #require(entries.first { $0["table"] as? String == "table-2-v1-gpt4o" })
        #expect(gpt["cells"] as? Int == 0 && gpt["referenceOnlyRows"] as? Int == 1)
        let one = try await ws.wb("plan", "table-4", "--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours")
        #expect(one.status == 0 && one.stdout.contains("9 stage(s): 0 cached, 9 to run"), "\(one.stdout)\(one.stderr)")
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
        let eval = stages.first {
            $0["name"] as? String
                == "evaluate@model=qwen2-vl-2b,source=pmc-refined,pipeline=single,ablation=ours,domain=biomed,data=ours"
        }
        // It evaluates the released checkpoint at its pinned revision: the fetch-released stage's manifest.
        let fetch = stages.first { $0["name"] as? String == "fetch-released@model=qwen2-vl-2b,domain=biomed" }
        #expect(
            (fetch?["command"] as? String)?.hasPrefix("\"$WORKBENCH\" fetch AdaptLLM/biomed-Qwen2-VL-2B-Instruct@ --manifest ")
                == true, "\(String(describing: fetch))")
        let manifest = ((fetch?["outputs"] as? [[String: Any]])?.first?["value"] as? String) ?? "?"
        #expect(
            (eval?["command"] as? String)?.contains(" \(manifest) med qwen2_vl ") == true,
            "\(String(describing: eval?["command"]))")
        #expect(names.filter { $0.hasPrefix("fetch-released@") }.count == 3)
        // Its revision is locked where the model writes it (the domain's attribute points there):
        // with --locked and no lock, the run refuses, naming the command that locks it.
        #expect((doc["unlocked"] as? [String])?.contains("models/AdaptLLM/biomed-Qwen2-VL-2B-Instruct") == true)
        let run = try await ws.wb("run", "table-2", "--released", "--locked")
        #expect(
            run.status == 65
                && run.stderr.contains("models/AdaptLLM/biomed-Qwen2-VL-2B-Instruct")
                && run.stderr.contains("run `workbench lock table-2 --released` and commit the lock"), "\(run.stderr)")
        // PMCRaw has no released model: still trained, with the same fingerprint as in the paper profile.
        let paper = try await ws.wb("plan", "table-2", "--json")
        let paperStages =
            (try JSONSerialization.jsonObject(with: Data(paper.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let name = "train@model=qwen2-vl-2b,source=pmc-raw,pipeline=single,ablation=ours,domain=biomed,data=ours"
        #expect(
            stages.first { $0["name"] as? String == name }?["fingerprint"] as? String
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
                #expect(
                    command.hasPrefix("bash \(ws.path)/experiments/adamllm/recipes/smoke.sh .venv-ml/bin/python "),
                    "\(table): \(command)")
                #expect((s["resources"] as! [String: Any])["gpus"] as? Int == 0)
            }
            #expect((doc["summary"] as! [String: Any])["gpus"] as? Int == 0)
        }
        // Table 5's ablations train on the stand-in tasks their smoke_tasks names: the cells whose
        // stand-in work is the same (ours, no-blank-image, synthetic-only: the filtered tasks) are one
        // node each, 18 cells in 10 trainings.
        let t5 = try await ws.wb("plan", "table-5", "--profile", "smoke", "--json")
        let t5stages =
            (try JSONSerialization.jsonObject(with: Data(t5.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
        let trains = t5stages.filter { ($0["name"] as! String).hasPrefix("train@") }
        let cells = trains.reduce(0) { $0 + 1 + (($1["aliases"] as? [String])?.count ?? 0) }
        #expect(
            trains.count == 10 && cells == 18 && trains.allSatisfy { ($0["command"] as! String).contains(" train ours ") },
            "\(trains.count) \(cells)")
        // A run needs no revision and clones nothing: the refusal of the paper profile does not apply.
        let dry = try await ws.wbArgs([
            "plan", "table-4", "--profile", "smoke", "--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours",
        ])
        #expect(dry.status == 0 && !dry.stdout.contains("not runnable yet"), "\(dry.stdout)")
        // The paper profile's fingerprints do not change with the smoke profile's overrides.
        let paper = try await ws.wb("plan", "table-4", "--json")
        #expect(
            (try JSONSerialization.jsonObject(with: Data(paper.stdout.utf8)) as! [String: Any])["profile"] as? String == "paper")
        let unknown = try await ws.wb("plan", "table-4", "--profile", "smoky")
        #expect(unknown.status != 0 && unknown.stderr.contains("smoke"), "\(unknown.stderr)")
    }

    @Test func emptyRevisionsAreRefusedForThePaperProfile() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        let cells = ["--cells", "row=qwen2-vl-2b,column=pmc-refined-single-ours"]
        let plan = try await ws.wbArgs(["plan", "table-4"] + cells)
        // Every repository the cell fetches is named, the data's too: PMCRefined's pairs and, in
        // another repository, its images.
        #expect(
            plan.status == 0
                && plan.stdout.contains(
                    """
                    unlocked: 6 hub repositories or files have no commit (or SHA-256) yet (run and reproduce lock them first; `workbench lock table-4` does it now):
                      datasets/AdaptLLM/biomed-VQA-benchmark
                      models/Qwen/Qwen2-VL-2B-Instruct
                      datasets/AdaptLLM/biomed-visual-instructions
                      datasets/FreedomIntelligence/PubMedVision
                      models/AdaptLLM/visual-instruction-synthesizer
                      models/meta-llama/Meta-Llama-3-8B
                    """),
            "\(plan.stdout)")
        #expect(!plan.stdout.contains("not runnable yet"), "\(plan.stdout)")
        let locked = try await ws.wbArgs(["run", "table-4", "--locked"] + cells)
        #expect(
            locked.status == 65
                && locked.stderr.contains("--locked: 6 hub repositories are not in experiments/adamllm/adamllm.lock"))
        #expect(locked.stderr.contains("hint: run `workbench lock table-4` and commit the lock"), "\(locked.stderr)")
        // Without --locked the run locks first: here the hub cannot be reached, and nothing starts.
        let run = try await ws.wbEnv(["HF_ENDPOINT": "http://127.0.0.1:9"], ["run", "table-4"] + cells)
        #expect(run.status == 69 && run.stderr.contains("cannot reach the hub"), "\(run.stderr)")
        #expect(!ws.exists(".workbench/runs"), "nothing starts")
        #expect(!ws.exists("experiments/adamllm/adamllm.lock"))
        // Filled in, the same selection passes the check (and would run on a GPU node).
        try await ws.sh(
            "sed -i -E 's/^      (images_|captions_|vision_tower_)?revision: \"\"/      \\1revision: \"0123456789abcdef0123456789abcdef01234567\"/' experiments/adamllm/catalog/models.yaml experiments/adamllm/catalog/sources.yaml && sed -i -E 's/(benchmark|synthesizer|checker)_revision: \"\"/\\1_revision: \"0123456789abcdef0123456789abcdef01234567\"/' experiments/adamllm/catalog/axes.yaml"
        )
        let pinned = try await ws.wbArgs(["plan", "table-4"] + cells)
        #expect(pinned.status == 0 && !pinned.stdout.contains("not runnable yet"), "\(pinned.stdout)")
    }

    /// What every trained cell of Tables 4 and 5 trains on (its training files in order, their image
    /// folder), which the catalog alone decides (catalog/axes.yaml: train_single, train_two); and a
    /// pipeline an ablation has no files for is refused when planning, naming the attribute.
    @Test func whatEachCellTrainsOnIsTheCatalogs() async throws {
        let ws = try await workspace()
        defer { ws.cleanup() }
        var text = "", seen = Set<String>()
        for table in ["table-4", "table-5"] {
            let r = try await ws.wb("plan", table, "--json")
            #expect(r.status == 0, "\(r.stderr)")
            let stages =
                (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["stages"] as! [[String: Any]]
            // Each output directory shown as the stage that writes it.
            let outdirs = stages.map { ($0["outdir"] as! String, "<" + ($0["name"] as! String) + ">") }.sorted {
                $0.0.count > $1.0.count
            }
            for s in stages {
                let name = s["name"] as! String
                guard name.hasPrefix("train@"), seen.insert(name).inserted else { continue }
                let words = (s["command"] as! String).split(separator: " ").map(String.init)
                var files: [String] = [], images = "?"
                for (i, w) in words.enumerated() where i + 1 < words.count {
                    var value = words[i + 1]
                    for (dir, stage) in outdirs { value = value.replacingOccurrences(of: dir, with: stage) }
                    if w == "--stage" { files.append(value) } else if w == "--images" { images = value }
                }
                text += "\(name)\n" + files.map { "  stage \($0)\n" }.joined() + "  images \(images)\n"
            }
        }
        try assertGolden(text, "adamllm-training-files.txt")
        try await ws.sh(
            "sed -i 's/^  include:$/  include:\\n    - {model: qwen2-vl-2b, domain: biomed, source: pmc-raw, data: ours, pipeline: two, ablation: general-tasks}/' experiments/adamllm/adamllm.yaml"
        )
        let refused = try await ws.wb("plan", "adamllm")
        #expect(
            refused.status == 65
                && refused.stderr.contains("value 'general-tasks' of axis 'ablation' has no attribute 'train_two'"),
            "\(refused.stderr)")
    }
}
