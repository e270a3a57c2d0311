import Foundation
import Testing

/// Compares `text` with the golden file `Golden/NAME` beside the calling test file;
/// WORKBENCH_RECORD_GOLDEN=1 rewrites the file instead.
package func assertGolden(
    _ text: String, _ name: String, file: String = #filePath,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let path = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Golden/\(name)").path
    if ProcessInfo.processInfo.environment["WORKBENCH_RECORD_GOLDEN"] == "1" {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    #expect(
        text == expected, "\(name) differs from its golden file (WORKBENCH_RECORD_GOLDEN=1 rewrites it)",
        sourceLocation: sourceLocation)
}

/// The repository's root (for tests that read the committed specs, data and scripts).
package let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
