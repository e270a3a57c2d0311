import Foundation
import Reports

/// The frame every page shares: one stylesheet inline, a navigation bar, nothing loaded from
/// elsewhere (an empty icon, so a browser asks for no `/favicon.ico`).
enum Page {
    static func layout(title: String, body: String, json: String? = nil, csv: String? = nil) -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<link rel=\"icon\" href=\"data:,\">\n<title>\(h(title)) · workbench</title>\n"
        out += "<style>\n\(css)\(HTMLRenderer.css)</style>\n</head>\n<body>\n"
        out += "<nav><a href=\"/\">Runs</a> <a href=\"/tables\">Tables</a> <a href=\"/compare\">Compare</a>"
        out += " <a href=\"/curves\">Curves</a>"
        var alternates: [String] = []
        if let json { alternates.append("<a href=\"\(h(json))\">JSON</a>") }
        if let csv { alternates.append("<a href=\"\(h(csv))\">CSV</a>") }
        if !alternates.isEmpty { out += " <span class=\"alt\">this page as " + alternates.joined(separator: " · ") + "</span>" }
        out += "</nav>\n<main>\n\(body)</main>\n</body>\n</html>\n"
        return out
    }

    /// `path?query` with `format` set (the page's JSON or CSV twin; html, the default, is left out).
    static func alternate(_ path: String, _ query: [String: String], format: String) -> String {
        var q = query
        q["format"] = format == "html" ? nil : format  // html is the default
        if q.isEmpty { return path }
        return path + "?"
            + q.sorted { $0.key < $1.key }.map { "\(WorkbenchUI.q($0.key))=\(WorkbenchUI.q($0.value))" }.joined(separator: "&")
    }

    static let css = """
        nav { margin: -1em 0 1.5em; padding: .5em 0; border-bottom: 1px solid #ddd; }
        nav a { margin-right: 1em; font-weight: 600; } nav .alt { float: right; color: #666; font-weight: normal; }
        nav .alt a { font-weight: normal; margin: 0; }
        table.list { border-collapse: collapse; margin: .5em 0 1em; }
        table.list th, table.list td { padding: .25em .6em; border-bottom: 1px solid #e4e4e4; text-align: left;
          vertical-align: top; }
        table.list td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .status { font-weight: 600; } .s-completed, .s-cached { color: #1a7f37; } .s-failed, .s-crashed { color: #c62828; }
        .s-running { color: #0550ae; } .s-interrupted, .s-cancelled, .s-orphaned, .s-skipped { color: #8a6d00; }
        form.filters { margin: .5em 0; } form.filters label { margin-right: .8em; }
        pre { background: #f6f8fa; padding: .6em; overflow: auto; max-height: 24em; font-size: 12px; }
        .dag { display: flex; gap: 1.2em; align-items: flex-start; overflow-x: auto; padding-bottom: .5em; }
        .dag .layer { display: flex; flex-direction: column; gap: .4em; min-width: 12em; }
        .dag .node { border: 1px solid #ccc; border-radius: 4px; padding: .3em .5em; font-size: 12px; background: #fff;
          max-width: 15em; overflow-wrap: anywhere; }
        .dag .coords { color: #444; }
        .dag .node a { font-weight: 600; } .dag .after { color: #666; }
        .cause { border-left: 3px solid #d62728; padding-left: .6em; margin: .6em 0; }
        .consequence { color: #555; } .error { color: #c62828; }
        details.attempt { border-top: 1px solid #e4e4e4; padding: .4em 0; } details.attempt summary { cursor: pointer; }
        .muted { color: #666; } .noise { color: #666; } .signal { color: #0550ae; font-weight: 600; }
        td.cell a { color: inherit; }

        """
}
