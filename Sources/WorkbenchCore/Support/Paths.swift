import Foundation

/// Paths as the user or a spec wrote them, made absolute.
package enum Paths {
    /// `path` itself when absolute, else `path` under `base` (default: the working directory).
    package static func absolute(_ path: String, base: String = FileManager.default.currentDirectoryPath) -> String {
        path.hasPrefix("/") ? path : base + "/" + path
    }
}
