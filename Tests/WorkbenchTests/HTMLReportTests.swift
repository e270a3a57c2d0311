import Foundation
import TestSupport
import Testing

/// The HTML report: a self-contained page per table (cells with verdicts, paper-vs-ours bars,
/// training-loss curves), opened in a real headless browser that reports what it laid out.
@Suite(.serialized) struct HTMLReportTests {
    /// A headless Chromium on PATH; nil when none is installed. With WORKBENCH_REQUIRE_BROWSER=1
    /// (scripts/test.sh) a missing browser fails the test instead of skipping the browser part.
    static func browser() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"] {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    /// The page after the browser ran its layout script: the `data-layout` JSON of the root element.
    static func layout(of page: String, in ws: TempWorkspace) async throws -> [String: Int]? {
        guard let browser = browser() else {
            #expect(
                ProcessInfo.processInfo.environment["WORKBENCH_REQUIRE_BROWSER"] != "1",
                "no headless browser on PATH (apt-get install chromium-headless-shell)")
            return nil
        }
        let dom = try await ws.sh(
            "'\(browser)' --headless --no-sandbox --disable-gpu --window-size=1280,900 --dump-dom 'file://\(page)' 2>/dev/null")
        guard let start = dom.range(of: "data-layout=\""),
            let end = dom[start.upperBound...].firstIndex(of: "\"")
        else {
            Issue.record("the browser's DOM has no data-layout attribute: \(dom.prefix(400))")
            return nil
        }
        let json = dom[start.upperBound..<end].replacingOccurrences(of: "&quot;", with: "\"")
        return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Int]
    }

    @Test func reproduceWritesAPageTheBrowserLaysOut() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        // A title and a row label that need escaping.
        let spec = chainSpec().replacingOccurrences(of: "title: Chain\n", with: "title: \"Chain <&> 'q'\"\n")
        try ws.write("experiments/chain.yaml", spec)
        try await ws.commitAll()

        let run = try await ws.wb("reproduce", "chain")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains(".workbench/reports/chain.html"), "html is a default format of reproduce: \(run.stderr)")
        let html = try ws.read(".workbench/reports/chain.html")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<title>Chain &lt;&amp;&gt; &#39;q&#39;</title>"), "labels are escaped")
        // a: paper and ours; b: ours only (no paper value) -> 3 bars; one loss curve per train stage.
        #expect(
            html.contains("data-expected-bars=\"3\" data-expected-curves=\"2\" data-expected-cells=\"2\""), "\(html.prefix(300))")
        #expect(html.contains("<td class=\"cell v-match\" data-verdict=\"match\"><span class=\"ours\">11.0</span>"))
        #expect(html.contains("<td class=\"cell v-missing\" data-verdict=\"missing\">"))
        #expect(html.contains("train@model=a <code>train/loss</code>") && html.contains("train@model=b <code>train/loss</code>"))
        #expect(html.contains("verdicts: 1 match, 0 within-noise, 0 deviates, 1 missing, 0 pending"))
        // Self-contained: nothing fetched from elsewhere (the SVG namespace is a name, not a fetch).
        let fetched = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        for needle in ["src=", "<link", "@import", "http://", "https://"] {
            #expect(!fetched.contains(needle), "the page refers to something outside it: \(needle)")
        }

        if let laidOut = try await Self.layout(of: ws.path + "/.workbench/reports/chain.html", in: ws) {
            #expect(
                laidOut.filter { ["bars", "curves", "cells"].contains($0.key) } == ["bars": 3, "curves": 2, "cells": 2],
                "what the browser laid out: \(laidOut)")
        }

        // `report --format html` prints the same page as reproduce wrote.
        let printed = try await ws.wb("report", "chain", "--format", "html")
        #expect(printed.status == 0)
        #expect(printed.stdout == html, "report renders the page reproduce wrote")
    }

    @Test func aPendingTableRendersWithoutBarsOrCurves() async throws {
        let ws = try await TempWorkspace()
        defer { ws.cleanup() }
        try ws.write("experiments/chain.yaml", chainSpec())
        try await ws.commitAll()
        let r = try await ws.wb("report", "chain", "--format", "html", "--out", "out")
        #expect(r.status == 0, "\(r.stderr)")
        let html = try ws.read("out/chain.html")
        // Only the paper's bar of row a; no run yet, so no curves.
        #expect(html.contains("data-expected-bars=\"1\" data-expected-curves=\"0\""))
        #expect(html.contains("No loss series recorded for this table's stages."))
        #expect(html.contains("<span class=\"ours pending\">pending</span>"))
        if let laidOut = try await Self.layout(of: ws.path + "/out/chain.html", in: ws) {
            #expect(
                laidOut.filter { ["bars", "curves", "cells"].contains($0.key) } == ["bars": 1, "curves": 0, "cells": 2],
                "\(laidOut)")
        }
    }

    /// Every paper table's page, in a 1,280 px window: the table with its grouped header rows fits
    /// the window's width.
    @Test func everyPaperTableFitsA1280PixelWindow() async throws {
        let ws = try await TempWorkspace.withCatalog()
        defer { ws.cleanup() }
        let tables = ["table-2", "table-3", "table-4", "table-5", "table-15", "table-15-food", "table-2-v1-gpt4o"]
        let r = try await ws.wbArgs(["report", "adamllm", "--format", "html", "--out", "out"])
        #expect(r.status == 0, "\(r.stderr)")
        for table in tables {
            guard let laidOut = try await Self.layout(of: ws.path + "/out/\(table).html", in: ws) else { return }
            #expect((laidOut["tableWidth"] ?? 0) > 0 && (laidOut["tableWidth"] ?? 9999) <= 1280, "\(table): \(laidOut)")
            if table == "table-4" { #expect(laidOut["headerRows"] == 3, "source, pipeline, data: \(laidOut)") }
        }
    }
}
