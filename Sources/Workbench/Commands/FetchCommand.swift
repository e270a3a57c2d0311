import ArgumentParser
import Foundation
import Runners
import WorkbenchCore
import WorkbenchKit

/// `workbench fetch REPO[@REVISION]`: a model or dataset from the Hugging Face hub into the cache
/// the Python tools read, pinned to a commit, resumable and verified.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a hub model or dataset at a revision into the Hugging Face cache (resumable, SHA-256 verified).",
        discussion: """
            The revision (a branch, tag or commit; default main) is resolved to a commit; files already \
            complete in the cache are not downloaded again; an interrupted download resumes (HTTP Range); \
            LFS files are checked against the SHA-256 the hub publishes (a mismatch is moved to \
            quarantine/). Large files come as parallel ranges (--segments), hashed in order while they \
            arrive; an interrupted one resumes with the chunks it lacks. Files land in $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub) \
            as models--ORG--NAME/snapshots/COMMIT, where transformers, vLLM and LLaMA-Factory find them \
            offline. HF_ENDPOINT selects a mirror; HF_TOKEN (or the token file) authenticates and is never \
            printed or recorded; HF_HUB_OFFLINE=1 (or --offline) uses the cache only.
            A plain file (https://HOST/PATH#sha256=HEX, a dataset's own download location) goes through \
            the same resumable, verified download into a content-addressed store, \
            $HF_HUB_CACHE/files--sha256/blobs/SHA256, whose path is printed; without #sha256 the \
            download is hashed and the digest printed (workbench lock records it). The token is never \
            sent to such a URL; WORKBENCH_FILES_MIRROR=URL fetches https://HOST/PATH from URL/HOST/PATH.
            In a spec, a fetch stage writes --manifest ${outputs.manifest}: stages that take it as an input \
            get the commit and every file's digest into their fingerprints.
            """)

    @Argument(
        help:
            "ORG/NAME[@REVISION]; datasets as datasets/ORG/NAME[@REVISION] or with --dataset; a plain file as https://HOST/PATH[#sha256=HEX]."
    )
    var repo: String?
    @Option(
        help:
            "Fetch exactly what this manifest (an earlier --manifest) names: its repository at its commit (from the cache when it is there)."
    )
    var from: String?
    @Flag(help: "The repository is a dataset.") var dataset = false
    @Option(help: "Only files matching this glob (repeatable), e.g. '*.safetensors' or 'config.json'.") var include: [String] = []
    @Option(help: "Downloads at once.") var jobs = 4
    @Option(
        help:
            "Parallel ranges per large file (LFS files of at least two chunks of 64 MiB; WORKBENCH_FETCH_CHUNK_BYTES sets the chunk); 1: one stream."
    )
    var segments = 4
    @Option(help: "Write what was fetched (commit, files, sizes, SHA-256) as JSON to this file.") var manifest: String?
    @Flag(help: "Do not ask the hub; use the cached snapshot.") var offline = false
    @Flag(
        help: "Re-hash the files already in the cache against the hub's SHA-256 (a mismatch is quarantined and downloaded again)."
    )
    var verify = false
    @Flag(help: "Print only errors.") var quiet = false
    @Flag(help: "Print the manifest JSON on stdout.") var json = false

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if segments < 1 { throw ValidationError("--segments must be at least 1") }
        if (repo == nil) == (from == nil) {
            throw ValidationError("give a repository (ORG/NAME[@REVISION]) or --from MANIFEST, not both")
        }
    }

    func run() async throws {
        var fetcher = HubFetcher.fromEnvironment()
        if let repo, let (url, sha256) = HubFetcher.parseFileReference(repo) { return try await fetchFile(url, sha256, fetcher) }
        let hubRepo: HubRepo, revision: String
        if let from {
            (hubRepo, revision) = try FetchManifests.target(from, fetcher: &fetcher, include: include)
        } else {
            (hubRepo, revision) = try HubRepo.parse(repo!, dataset: dataset)
        }
        fetcher.jobs = jobs
        fetcher.segments = segments
        if !include.isEmpty { fetcher.include = include }
        if offline { fetcher.offline = true }
        fetcher.verify = verify
        let tty = isatty(STDERR_FILENO) == 1
        if !quiet { fetcher.report = { line in console.note((tty ? "\r\u{1B}[K" : "") + line) } }
        let progress = quiet || !tty ? nil : ProgressLine(counter: fetcher.counter)
        progress?.start()
        let result: FetchManifest
        do {
            result = try await fetcher.fetch(hubRepo, revision: revision)
        } catch {
            progress?.stop()
            throw error
        }
        progress?.stop()
        if let manifest { try FetchManifests.write(result, to: manifest) }
        if json { print(String(decoding: try result.encoded(), as: UTF8.self)) }
        let total = result.files.reduce(Int64(0)) { $0 + $1.size }
        let got = result.files.filter(\.downloaded)
        if !quiet {
            console.note(
                "\(hubRepo)@\(revision) = \(result.commit)\(result.offline ? " (offline)" : ""): \(result.files.count) file(s), \(ByteCount.text(total)); downloaded \(got.count) (\(ByteCount.text(got.reduce(Int64(0)) { $0 + $1.size }))), \(result.files.count - got.count) already in the cache"
            )
            if revision != result.commit { console.note("pin it: revision: \(result.commit)") }
        }
        if !json { print(fetcher.cache.snapshot(hubRepo, commit: result.commit)) }
    }
}

extension FetchCommand {
    /// `workbench fetch https://HOST/PATH[#sha256=HEX]`: a plain file into the content-addressed store.
    func fetchFile(_ url: String, _ sha256: String?, _ base: HubFetcher) async throws {
        var fetcher = base
        if offline { fetcher.offline = true }
        let tty = isatty(STDERR_FILENO) == 1
        if !quiet { fetcher.report = { line in console.note((tty ? "\r\u{1B}[K" : "") + line) } }
        let progress = quiet || !tty ? nil : ProgressLine(counter: fetcher.counter)
        progress?.start()
        let file: FetchedFile
        do { file = try await fetcher.fetchFile(url: url, sha256: sha256) } catch {
            progress?.stop()
            throw error
        }
        progress?.stop()
        let result = FetchManifest.file(url: url, requested: sha256, file)
        if let manifest { try FetchManifests.write(result, to: manifest) }
        if json { print(String(decoding: try result.encoded(), as: UTF8.self)) }
        if !quiet {
            console.note(
                "\(url): \(ByteCount.text(file.size)), SHA-256 \(file.sha256 ?? "")\(file.downloaded ? "" : " (already in the cache)")"
            )
            if sha256 == nil { console.note("pin it: \(url)#sha256=\(file.sha256 ?? "")") }
        }
        if !json { print(fetcher.storedFile(sha256: file.sha256 ?? "")) }
    }
}

/// `bytes, rate, ETA` on one terminal line, every half second.
final class ProgressLine: @unchecked Sendable {
    let counter: TransferCounter
    private var task: Task<Void, Never>?

    init(counter: TransferCounter) { self.counter = counter }

    func start() {
        let counter = self.counter
        task = Task.detached {
            let t0 = ContinuousClock.now
            var last: Int64 = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                let bytes = counter.value
                guard bytes != last else { continue }
                last = bytes
                let secs = max(
                    0.001,
                    Double((ContinuousClock.now - t0).components.seconds) + Double(
                        (ContinuousClock.now - t0).components.attoseconds) / 1e18)
                let rate = Double(bytes) / secs
                let total = counter.total
                var line = "\r\u{1B}[K  \(ByteCount.text(bytes))"
                if total > 0 { line += " of \(ByteCount.text(total))" }
                line += " at \(ByteCount.text(Int64(rate)))/s"
                if total > bytes, rate > 0 { line += ", ETA \(Int((Double(total - bytes) / rate).rounded(.up))) s" }
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }

    func stop() {
        task?.cancel()
        task = nil
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
