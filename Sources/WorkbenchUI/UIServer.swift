import FlyingFox
import FlyingSocks
import Foundation

/// `workbench ui`'s HTTP side: FlyingFox listens, every GET goes to `UIApp`; anything else is
/// refused (the UI never changes the store).
package enum UIServer {
    /// Serves `app` on `host:port` (port 0: any free one) until the task is cancelled; `ready`
    /// gets the address it listens on.
    package static func serve(_ app: UIApp, host: String, port: UInt16, ready: @Sendable (String) -> Void) async throws {
        let server: HTTPServer
        do {
            server =
                host.contains(":")
                ? HTTPServer(address: try sockaddr_in6.inet6(ip6: host, port: port), logger: .disabled)
                : HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), logger: .disabled)
        } catch {
            throw UIServerError("cannot listen on '\(host)': give an IPv4 or IPv6 address (127.0.0.1 by default)")
        }
        await server.appendRoute("*") { request in
            // GET only (a HEAD answered with a body would garble the next response on the
            // connection; FlyingFox writes bodies as given).
            guard request.method == .GET else {
                return HTTPResponse(
                    statusCode: .methodNotAllowed, headers: [HTTPHeader("Allow"): "GET"],
                    body: request.method == .HEAD ? Data() : Data("workbench ui is read-only: GET only\n".utf8))
            }
            let answer = app.respond(path: request.path, items: formItems(request.target.query()))
            return HTTPResponse(
                statusCode: HTTPStatusCode(answer.status, phrase: phrase(answer.status)),
                headers: [.contentType: answer.contentType, HTTPHeader("Cache-Control"): "no-store"],
                body: Data(answer.body.utf8))
        }
        let task = Task { try await server.run() }
        do {
            try await server.waitUntilListening(timeout: 10)
        } catch {
            task.cancel()
            _ = try? await task.value
            throw UIServerError(
                "cannot listen on \(host):\(port): \(error.localizedDescription) (is the port taken? try --port 0)")
        }
        if let a = await server.listeningAddress {
            switch a {
            case .ip4(let ip, let p): ready("http://\(ip):\(p)/")
            case .ip6(let ip, let p): ready("http://[\(ip)]:\(p)/")
            default: ready("http://\(host):\(port)/")
            }
        }
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// A query string's items as a browser's GET form sends them: `+` is a space, then the
    /// percent escapes are decoded (URLComponents leaves `+` alone).
    static func formItems(_ raw: String) -> [(String, String)] {
        raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        default: return "Internal Server Error"
        }
    }
}

/// Why the server could not start.
package struct UIServerError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
