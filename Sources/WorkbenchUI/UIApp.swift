import Foundation
import Reports
import Tracking
import WorkbenchCore
import WorkbenchKit

/// A page's answer: status, content type and body. The router builds it; the server only sends it.
package struct UIResponse: Sendable {
    package var status: Int
    package var contentType: String
    package var body: String

    static func html(_ body: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "text/html; charset=utf-8", body: body)
    }
    static func json(_ body: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "application/json; charset=utf-8", body: body)
    }
    static func csv(_ body: String) -> UIResponse { UIResponse(status: 200, contentType: "text/csv; charset=utf-8", body: body) }
}

/// What a page asks for: `?format=json` (every page), `?format=csv` (pages that are a table).
enum PageFormat: String {
    case html, json, csv
}

/// `workbench ui`'s pages over one workspace, read-only: the session's store is opened read-only
/// (SQLite refuses any write), and every page is a function of the request and the store at that
/// moment, so a run recorded by another process shows on the next reload.
///
/// Routes (each with a stable URL; `?format=json` gives the same content as data):
/// `/` runs, `/runs/ID`, `/tables`, `/tables/TABLE[?run=ID]`, `/compare?runs=A,B[,C]`,
/// `/curves?runs=A[,B]&series=NAME&group=PARAM`.
package struct UIApp: Sendable {
    package let session: Session

    package init(session: Session) { self.session = session }

    /// Answers one GET. `path` is percent-encoded as it arrived; `query` is decoded.
    package func respond(path: String, query: [String: String]) -> UIResponse {
        respond(path: path, items: query.map { ($0.key, $0.value) })
    }

    /// Answers one GET with the query's items in order (a name may repeat: `run=A&run=B`; for
    /// the other names the last one counts).
    package func respond(path rawPath: String, items: [(String, String)]) -> UIResponse {
        let query = Dictionary(items, uniquingKeysWith: { _, last in last })
        let path = rawPath.removingPercentEncoding ?? rawPath
        let format: PageFormat
        switch query["format"] ?? "html" {
        case "html": format = .html
        case "json": format = .json
        case "csv": format = .csv
        case let other: return failure(400, "unknown format '\(other)': use html, json or csv", format: .html)
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        do {
            switch (parts.first, parts.count) {
            case (nil, _): return try runsPage(query, format: format)
            case ("runs", 2): return try runPage(parts[1], query, format: format)
            case ("tables", 1): return try tablesIndex(format: format)
            case ("tables", 2): return try tablePage(parts[1], run: query["run"], format: format)
            case ("compare", 1): return try comparePage(query, format: format, items: items)
            case ("curves", 1): return try curvesPage(query, format: format, items: items)
            default:
                return failure(
                    404, "no page at \(path): pages are /, /runs/ID, /tables, /tables/TABLE, /compare, /curves", format: format)
            }
        } catch let e as UIError {
            return failure(e.status, e.message, format: format)
        } catch let e as StoreError {
            if case .unknownRun = e { return failure(404, "\(e)", format: format) }
            if case .ambiguousRun = e { return failure(404, "\(e)", format: format) }
            return failure(500, "\(e)", format: format)
        } catch {
            return failure(500, "\(error)", format: format)
        }
    }

    func failure(_ status: Int, _ message: String, format: PageFormat) -> UIResponse {
        if format == .json {
            return .json(JSONText.object([("error", JSONText.string(message)), ("status", String(status))]), status: status)
        }
        let title = status == 404 ? "Not found" : status == 400 ? "Bad request" : "Error"
        return .html(Page.layout(title: title, body: "<h1>\(title)</h1>\n<p class=\"error\">\(h(message))</p>\n"), status: status)
    }

    /// A JSON body from an `Encodable` (sorted keys, so the same record gives the same bytes).
    func encoded<T: Encodable>(_ value: T) throws -> UIResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return .json(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
    }
}

/// A request the pages refuse, with the status to answer.
struct UIError: Error {
    var status: Int
    var message: String
}

/// HTML-escapes text (the report pages' escaping).
func h(_ s: String) -> String { HTMLRenderer.escape(s) }

/// Percent-encodes a query value or path segment.
func q(_ s: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
}

/// Small hand-built JSON for the few answers that are not an `Encodable` model.
enum JSONText {
    static func string(_ s: String) -> String {
        let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
    static func number(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "null" }
        return "\(v)"
    }
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }
    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
}
