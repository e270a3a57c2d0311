import Foundation
import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Testing

/// `workbench ui` for real: the binary serves a workspace with two runs of the example spec on a
/// free port, headless Chromium loads every page (no console message: no script error, no
/// failed load), and every link on every page answers 200 with its fragment's target present.
/// WORKBENCH_UI_SCREENSHOTS=DIR also writes a screenshot of each page there.
@Suite(.serialized) struct UIBrowserTests {
    @Test func everyPageLoadsInChromiumWithNoConsoleErrorAndNoBrokenLink() async throws {
        guard let browser = HTMLReportTests.browser() else {
            #expect(
                ProcessInfo.processInfo.environment["WORKBENCH_REQUIRE_BROWSER"] != "1",
                "no headless browser on PATH (apt-get install chromium-headless-shell)")
            return
        }
        let (ws, a, b) = try await UIPagesTests.twoRuns()
        defer { ws.cleanup() }
        let pid = try await ws.sh("'\(workbenchBinary)' ui --port 0 > ui.out 2>&1 & echo $!").trimmingCharacters(
            in: .whitespacesAndNewlines)
        var base = ""
        for _ in 0..<200 where base.isEmpty {
            let out = (try? ws.read("ui.out")) ?? ""
            if let r = out.range(of: #"http://127\.0\.0\.1:\d+/"#, options: .regularExpression) { base = String(out[r]) }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!base.isEmpty, "workbench ui printed no address: \((try? ws.read("ui.out")) ?? "")")
        do {
            if !base.isEmpty { try await crawl(base: base, ws: ws, browser: browser, a: a, b: b) }
            _ = try await ws.sh("kill \(pid)")
        } catch {
            _ = try? await ws.sh("kill \(pid)")
            throw error
        }
    }

    func crawl(base: String, ws: TempWorkspace, browser: String, a: String, b: String) async throws {

        let pages = [
            "", "?status=completed&sort=duration", "runs/\(b)", "runs/\(a)?audit=1", "tables", "tables/example?run=\(b)",
            "tables/example", "compare?runs=\(a),\(b)", "compare?runs=\(a),\(b)&all=1", "curves?runs=\(a),\(b)&group=model",
        ]
        let shots = ProcessInfo.processInfo.environment["WORKBENCH_UI_SCREENSHOTS"]
        var checked: Set<String> = []
        for (i, page) in pages.enumerated() {
            let url = base + page
            let out = try await ws.sh(
                "'\(browser)' --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --window-size=1280,1000 --dump-dom '\(url)' 2> console.log; echo; echo ==console==; grep ':CONSOLE' console.log || true"
            )
            let parts = out.components(separatedBy: "==console==")
            let dom = parts[0]
            let console = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespacesAndNewlines) : ""
            #expect(
                dom.contains("<nav>") && dom.contains("</main>"), "\(url): the browser did not get a page: \(dom.prefix(300))")
            #expect(console.isEmpty, "\(url): console: \(console)")
            if let shots {
                _ = try await ws.sh(
                    "mkdir -p '\(shots)' && '\(browser)' --headless --no-sandbox --disable-gpu --window-size=1280,1000 --screenshot='\(shots)/\(i)-\(page.split(separator: "/").first.map { $0.hasPrefix("?") ? "runs" : String($0.split(separator: "?")[0]) } ?? "runs").png' '\(url)' > /dev/null 2>&1"
                )
            }
            // Every link: same-site ones answer 200, fragments name an element of their page.
            for href in Self.hrefs(in: dom) {
                if href.hasPrefix("#") {
                    #expect(dom.contains("id=\"\(href.dropFirst())\""), "\(url): link \(href) has no target")
                    continue
                }
                #expect(href.hasPrefix("/"), "\(url): a link leaves the UI: \(href)")
                let (path, fragment) = Self.splitFragment(href)
                guard checked.insert(href).inserted else { continue }
                let (status, target) = try await Self.get(String(base.dropLast()) + path)
                #expect(status == 200, "\(url): link \(href) answers \(status)")
                if let fragment { #expect(target.contains("id=\"\(fragment)\""), "\(url): link \(href): no element \(fragment)") }
            }
            if page.hasPrefix("compare?") {
                // The parameter that changed comes first, above its collapsed consequences.
                let param = dom.range(of: "param n")
                let downstream = dom.range(of: "downstream differ only through it")
                #expect(param != nil && downstream != nil && param!.lowerBound < downstream!.lowerBound, "\(dom.prefix(3000))")
            }
        }
        #expect(checked.count >= 20, "links checked: \(checked.count)")
        // The runs page's checkboxes send `run=A&run=B`: the page's links name both runs.
        let picked = try await Self.get(base + "compare?run=\(a)&run=\(b)")
        #expect(picked.0 == 200 && picked.1.contains("all=1&amp;runs=\(a)%2C\(b)"), "\(picked.1.prefix(2000))")
        // A form sends a space as `+` (typed after the comma here): still both runs.
        let spaced = try await Self.get(base + "curves?runs=\(a),+\(b)&format=json")
        #expect(spaced.0 == 200 && spaced.1.contains(b) && spaced.1.contains(a), "\(spaced.1.prefix(500))")
        // GET only: a HEAD is refused, with no body (the connection stays usable).
        var head = URLRequest(url: URL(string: base)!)
        head.httpMethod = "HEAD"
        let (_, response) = try await URLSession.shared.data(for: head)
        #expect((response as? HTTPURLResponse)?.statusCode == 405)
    }

    /// GET over HTTP (URLSession): the status and the body.
    static func get(_ url: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The `href` values of a page, entities decoded.
    static func hrefs(in dom: String) -> Set<String> {
        let re = try! NSRegularExpression(pattern: #"href="([^"]*)""#)
        let ns = dom as NSString
        return Set(
            re.matches(in: dom, range: NSRange(location: 0, length: ns.length)).map {
                ns.substring(with: $0.range(at: 1)).replacingOccurrences(of: "&amp;", with: "&")
            }.filter { !$0.hasPrefix("data:") })
    }

    static func splitFragment(_ href: String) -> (String, String?) {
        guard let i = href.firstIndex(of: "#") else { return (href, nil) }
        return (String(href[..<i]), String(href[href.index(after: i)...]))
    }
}
