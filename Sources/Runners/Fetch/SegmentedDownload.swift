import Foundation
import WorkbenchCore

/// One large file fetched as parallel ranges: the file is cut into chunks; `segments` transfers
/// each take the next missing chunk (`Range: bytes=a-b`) and write it in place. Finished chunks are
/// recorded in `PARTIAL.chunks` (chunk size, file size, the chunks on disk; rewritten atomically
/// after each one), so an interrupted fetch downloads only the missing chunks next time. The
/// SHA-256 is computed in file order while the transfers run, by a reader that hashes each chunk
/// from the file once it and every chunk before it are on disk: a single stream's hashing no
/// longer waits for a single stream's transfer. Memory is fixed (the transfers' buffers and one
/// 8 MiB window of the file mapped for hashing), whatever the file size.
struct SegmentedDownload {
    struct State: Codable, Equatable {
        var chunkSize: Int64
        var size: Int64
        var done: [Int]
        enum CodingKeys: String, CodingKey { case chunkSize = "chunk_size", size, done }
    }

    enum Outcome {
        case done(sha256: String)
        /// The server answered a range with something else (the whole file): nothing outside a
        /// range was written; the caller starts over with one stream.
        case rangeRefused
    }

    let url: String
    let headers: [String]
    let fd: Int32
    let partial: String
    let size: Int64
    let chunkSize: Int64
    let segments: Int
    let counter: TransferCounter
    /// The error an HTTP answer means (401, 404, 5xx), nil for a success.
    let classify: @Sendable (CurlResponse) -> FetchError?

    static func stateFile(_ partial: String) -> String { partial + ".chunks" }

    #if os(Linux)
        private static let mapFlags = MAP_SHARED | MAP_POPULATE
    #else
        private static let mapFlags = MAP_SHARED
    #endif

    var chunkCount: Int { Int((size + chunkSize - 1) / chunkSize) }

    func chunk(_ i: Int) -> Range<Int64> { Int64(i) * chunkSize..<min(size, Int64(i + 1) * chunkSize) }

    /// The chunks already on disk: those the state file lists when it describes this file with
    /// this chunk size and lie within the data file's `fileSize` (a state file is never trusted
    /// past the data it describes); without one, those inside the prefix a one-stream fetch kept
    /// when the data file is that fetch's (`oneStreamPrefix`), else none (a ranged file without its
    /// state, say one whose first save failed, may have holes).
    func chunksOnDisk(fileSize: Int64, oneStreamPrefix: Bool) -> Set<Int> {
        if let data = FileManager.default.contents(atPath: Self.stateFile(partial)),
            let state = try? JSONDecoder().decode(State.self, from: data)
        {
            guard state.size == size && state.chunkSize == chunkSize else { return [] }  // another chunking: every chunk again
            return Set(state.done.filter { $0 >= 0 && $0 < chunkCount && chunk($0).upperBound <= fileSize })
        }
        guard oneStreamPrefix else { return [] }
        return Set((0..<chunkCount).filter { chunk($0).upperBound <= fileSize })
    }

    private func save(_ done: Set<Int>) {
        let state = State(chunkSize: chunkSize, size: size, done: done.sorted())
        if let data = try? JSONEncoder().encode(state) { try? AtomicFile.write(data, to: Self.stateFile(partial)) }
    }

    func run(fileSize: Int64, oneStreamPrefix: Bool) throws(FetchError) -> Outcome {
        let shared = Shared(done: chunksOnDisk(fileSize: fileSize, oneStreamPrefix: oneStreamPrefix))
        save(shared.done)
        let pending = (0..<chunkCount).filter { !shared.done.contains($0) }
        let group = DispatchGroup()
        // The reader: hashes chunk after chunk, in order, as they land.
        group.enter()
        Thread.detachNewThread {
            defer { group.leave() }
            var hasher = SHA256Hasher()
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
            defer { block.deallocate() }
            let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
            for i in 0..<chunkCount {
                guard shared.waitFor(i) else { return }
                var pos = chunk(i).lowerBound
                while pos < chunk(i).upperBound {
                    // The page cache mapped in 8 MiB windows (a tenth less CPU than copying it out
                    // with pread, measured here); pread where mapping fails.
                    let n = Int(min(8 << 20, chunk(i).upperBound - pos))
                    let base = pos - pos % page
                    let length = Int(pos - base) + n
                    var st = stat()
                    let inFile = fstat(fd, &st) == 0 && Int64(st.st_size) >= pos + Int64(n)  // a mapping past the end faults
                    if inFile, let mapped = mmap(nil, length, PROT_READ, Self.mapFlags, fd, off_t(base)), mapped != MAP_FAILED {
                        hasher.update(UnsafeRawBufferPointer(start: mapped + Int(pos - base), count: n))
                        munmap(mapped, length)
                        pos += Int64(n)
                        continue
                    }
                    let got = pread(fd, block.baseAddress, min(block.count, n), off_t(pos))
                    if got <= 0 {
                        shared.fail(
                            .io("cannot read \(partial): \(got < 0 ? String(cString: strerror(errno)) : "it ends early")"))
                        return
                    }
                    hasher.update(UnsafeRawBufferPointer(rebasing: block[0..<got]))
                    pos += Int64(got)
                }
            }
            shared.digest = hasher.finalizeHex()
        }
        // The transfers: each takes the next missing chunk until none is left or one fails.
        for _ in 0..<max(1, min(segments, pending.count)) {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    guard let i = shared.take(from: pending) else { return }
                    let range = chunk(i)
                    let (r, written) = CurlTransfer.rangeDownload(
                        url: url, headers: headers, fd: fd, range: range, counter: counter)
                    if r.rangeRefused && r.status == 200 { shared.refuse(); return }
                    if let e = r.writeFailure(path: partial, needed: size - shared.bytesDone(chunk)) { shared.fail(e); return }
                    if let e = classify(r) { shared.fail(e); return }
                    if let e = r.curlError
                        ?? (r.rangeRefused
                            ? "the answer to bytes \(range.lowerBound)-\(range.upperBound - 1) was not that range (HTTP \(r.status))"
                            : nil)
                        ?? (written != Int64(range.count)
                            ? "bytes \(range.lowerBound)-\(range.upperBound - 1): \(written) of \(range.count) received" : nil)
                    {
                        shared.fail(.network(e, offline: nil))
                        return
                    }
                    shared.finish(i, save: save)
                }
            }
        }
        group.wait()
        if shared.refused { return .rangeRefused }
        if let failure = shared.failure {
            if case let .network(message, offline) = failure {
                throw .network(
                    "\(message) (\(shared.done.count) of \(chunkCount) chunks of \(ByteCount.text(chunkSize)) kept in \(partial); the next fetch downloads the rest)",
                    offline: offline)
            }
            throw failure
        }
        guard let digest = shared.digest else { throw .io("cannot hash \(partial)") }
        return .done(sha256: digest)
    }

    /// What the transfers and the reader share, under one lock.
    private final class Shared: @unchecked Sendable {
        private let condition = NSCondition()
        private(set) var done: Set<Int>
        private(set) var failure: FetchError?
        private(set) var refused = false
        private var next = 0
        private var result: String?
        var digest: String? {
            get { condition.withLock { result } }
            set { condition.withLock { result = newValue } }
        }

        /// The next chunk to fetch, nil when none is left or the download stopped.
        func take(from pending: [Int]) -> Int? {
            condition.withLock {
                guard failure == nil, !refused, next < pending.count else { return nil }
                defer { next += 1 }
                return pending[next]
            }
        }

        init(done: Set<Int>) { self.done = done }

        /// Blocks until chunk `i` is on disk (true) or the download stopped (false).
        func waitFor(_ i: Int) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while !done.contains(i) && failure == nil && !refused { condition.wait() }
            return done.contains(i) && failure == nil && !refused
        }

        func finish(_ i: Int, save: (Set<Int>) -> Void) {
            condition.lock()
            done.insert(i)
            save(done)  // under the lock: one writer at a time, never an older set last
            condition.broadcast()
            condition.unlock()
        }

        func fail(_ e: FetchError) {
            condition.lock()
            if failure == nil { failure = e }
            condition.broadcast()
            condition.unlock()
        }

        func refuse() {
            condition.lock()
            refused = true
            condition.broadcast()
            condition.unlock()
        }

        func bytesDone(_ chunk: (Int) -> Range<Int64>) -> Int64 {
            condition.withLock { done.reduce(Int64(0)) { $0 + Int64(chunk($1).count) } }
        }
    }
}
