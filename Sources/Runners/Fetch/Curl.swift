import CCurl
import Foundation
import WorkbenchCore

/// libcurl, one blocking transfer at a time per `CurlTransfer` (callers run transfers on their own
/// threads for parallelism). Bodies go straight to a file descriptor with `pwrite`, hashed as they
/// arrive, so memory stays flat whatever the file size.
enum Curl {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        return true
    }()

    static func ensureInitialized() { _ = initialized }

    static func version() -> String { String(cString: curl_version()) }
}

/// Bytes received so far across transfers, for the progress display.
package final class TransferCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: Int64 = 0
    private var expected: Int64 = 0
    package init() {}
    package func add(_ n: Int64) { lock.withLock { bytes += n } }
    package var value: Int64 { lock.withLock { bytes } }
    /// Bytes this fetch has to download in all (for an ETA).
    package var total: Int64 {
        get { lock.withLock { expected } }
        set { lock.withLock { expected = newValue } }
    }
}

/// What one HTTP exchange gave.
struct CurlResponse {
    var status: Int
    /// Lower-cased header names of the final response (after redirects).
    var headers: [String: String]
    var body: Data
    /// libcurl's error when the transfer itself failed (connection, timeout, aborted write).
    var curlError: String?
    /// `errno` of a failed write to the destination file.
    var writeErrno: Int32 = 0
    /// The server ignored the requested range and sent the whole body from the start.
    var restartedFromZero = false

    /// The error a failed write to `path` means (a full disk says how much is still `needed`), nil
    /// when the writes succeeded.
    func writeFailure(path: String, needed: @autoclosure () -> Int64) -> FetchError? {
        switch writeErrno {
        case 0: return nil
        case ENOSPC, EDQUOT: return .diskFull(path: path, needed: needed(), available: DiskSpace.free(path) ?? 0)
        default: return .io("cannot write \(path): \(String(cString: strerror(writeErrno)))")
        }
    }
    /// An exact range was asked for (`rangeDownload`) and the server answered with the whole
    /// file (200) or more bytes than the range holds: nothing beyond the range was written.
    var rangeRefused = false
}

final class CurlTransfer {
    // Callback state.
    fileprivate var fd: Int32 = -1
    fileprivate var offset: Int64 = 0
    fileprivate var requestedFrom: Int64 = 0
    fileprivate var status = 0
    fileprivate var headers: [String: String] = [:]
    fileprivate var memory = Data()
    fileprivate var sawBody = false
    fileprivate var restarted = false
    fileprivate var writeErrno: Int32 = 0
    fileprivate var hasher: HasherBox?
    fileprivate var counter: TransferCounter?
    /// Set for an exact range: the offset one past its last byte.
    fileprivate var exactEnd: Int64?
    fileprivate var refused = false

    /// A GET (or HEAD) whose body is kept in memory (API answers, error pages).
    static func fetch(url: String, headers: [String], head: Bool = false, timeout: Int = 60) -> CurlResponse {
        let t = CurlTransfer()
        return t.perform(url: url, headers: headers, head: head, timeout: timeout)
    }

    /// A GET whose body is written to `fd` from `offset` on (asking for `Range: bytes=offset-`);
    /// `hasher` has already seen bytes 0..<offset. A 200 answer to a range request restarts at 0.
    static func download(
        url: String, headers: [String], fd: Int32, offset: Int64, hasher: HasherBox?,
        counter: TransferCounter?
    ) -> (CurlResponse, written: Int64) {
        let t = CurlTransfer()
        t.fd = fd
        t.offset = offset
        t.requestedFrom = offset
        t.hasher = hasher
        t.counter = counter
        var h = headers
        if offset > 0 { h.append("Range: bytes=\(offset)-") }
        let r = t.perform(url: url, headers: h, head: false, timeout: 0)
        return (r, t.offset)
    }

    /// A GET of exactly `range` of the file, written to `fd` at those offsets (`Range: bytes=a-b`).
    /// An answer that is not that range (a 200 with the whole file, or a longer body) stops the
    /// transfer at once with `rangeRefused`, having written nothing outside the range.
    static func rangeDownload(
        url: String, headers: [String], fd: Int32, range: Range<Int64>,
        counter: TransferCounter?
    ) -> (CurlResponse, written: Int64) {
        let t = CurlTransfer()
        t.fd = fd
        t.offset = range.lowerBound
        t.requestedFrom = range.lowerBound
        t.exactEnd = range.upperBound
        t.counter = counter
        let r = t.perform(
            url: url, headers: headers + ["Range: bytes=\(range.lowerBound)-\(range.upperBound - 1)"], head: false, timeout: 0)
        return (r, t.offset - range.lowerBound)
    }

    private func perform(url: String, headers: [String], head: Bool, timeout: Int) -> CurlResponse {
        Curl.ensureInitialized()
        guard let handle = curl_easy_init() else {
            return CurlResponse(status: 0, headers: [:], body: Data(), curlError: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        for h in headers { list = curl_slist_append(list, h) }
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let me = Unmanaged.passUnretained(self).toOpaque()
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { eb in
            _ = ccurl_setopt_str(handle, CURLOPT_URL, url)
            _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
            _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 30)
            // A stalled transfer (under 1 byte/s for 60 s) fails instead of hanging for ever.
            _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, 60)
            if timeout > 0 { _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT, timeout) }
            _ = ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
            _ = ccurl_setopt_str(handle, CURLOPT_USERAGENT, "workbench-fetch (libcurl)")
            if head { _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1) }
            _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
            _ = ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, eb.baseAddress)
            _ = ccurl_setopt_header_cb(handle, curlHeaderCallback)
            _ = ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, me)
            _ = ccurl_setopt_write_cb(handle, curlWriteCallback)
            _ = ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, me)
            return curl_easy_perform(handle)
        }
        var response = CurlResponse(
            status: status, headers: self.headers, body: memory, curlError: nil,
            writeErrno: writeErrno, restartedFromZero: restarted, rangeRefused: refused)
        if code != CURLE_OK {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            response.curlError = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        }
        return response
    }

    fileprivate func header(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {  // a new response (the first, or after a redirect)
            headers = [:]
            let parts = trimmed.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        headers[trimmed[..<colon].lowercased()] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    fileprivate func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if fd < 0 || status >= 300 || status < 200 {
            if memory.count < 4 << 20 { memory.append(contentsOf: bytes) }
            return true
        }
        if let end = exactEnd, status != 206 || offset + Int64(bytes.count) > end {
            refused = true  // not the range asked for: stop before writing anything outside it
            return false
        }
        if !sawBody {
            sawBody = true
            if requestedFrom > 0 && status == 200 {  // the server ignored Range: start over
                if ftruncate(fd, 0) != 0 { writeErrno = errno; return false }
                offset = 0
                restarted = true
                hasher?.reset()
            }
        }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                writeErrno = errno
                offset += Int64(done)
                return false
            }
            done += n
        }
        hasher?.update(bytes)
        offset += Int64(bytes.count)
        counter?.add(Int64(bytes.count))
        return true
    }
}

private func curlHeaderCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?)
    -> Int
{
    guard let ptr, let user else { return 0 }
    let n = size * count
    let t = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
    t.header(line)
    return n
}

private func curlWriteCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?)
    -> Int
{
    guard let ptr, let user else { return 0 }
    let n = size * count
    let t = Unmanaged<CurlTransfer>.fromOpaque(user).takeUnretainedValue()
    return t.body(UnsafeRawBufferPointer(start: ptr, count: n)) ? n : 0
}

/// A restartable SHA-256 fed by a transfer's write callback. The callback copies the bytes into
/// one of three 4 MiB blocks (a cheap memcpy); full blocks are hashed on a second thread, so
/// hashing overlaps with receiving. Memory is fixed (12 MiB), whatever the file size.
package final class HasherBox: @unchecked Sendable {
    private static let blockSize = 4 << 20
    private let condition = NSCondition()
    private var blocks: [UnsafeMutableRawPointer] = []
    private var free: [Int] = []
    private var ready: [(index: Int, count: Int)] = []
    private var busy = false
    private var stopped = false
    private var worker: Thread?
    private var filling = -1
    private var filled = 0
    private var hasher: SHA256Hasher? = SHA256Hasher()

    package init() {
        for i in 0..<3 {
            blocks.append(UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 64))
            free.append(i)
        }
    }

    deinit { for b in blocks { b.deallocate() } }

    package func update(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while rest.count > 0 {
            if filling < 0 { filling = takeFree() }
            let n = min(rest.count, Self.blockSize - filled)
            (blocks[filling] + filled).copyMemory(from: rest.baseAddress!, byteCount: n)
            filled += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if filled == Self.blockSize { handOff() }
        }
    }

    private func takeFree() -> Int {
        condition.lock()
        while free.isEmpty { condition.wait() }
        let i = free.removeLast()
        condition.unlock()
        return i
    }

    private func handOff() {
        guard filling >= 0 else { return }
        if worker == nil {
            let t = Thread { [self] in work() }
            worker = t
            t.start()
        }
        condition.lock()
        ready.append((filling, filled))
        condition.broadcast()
        condition.unlock()
        filling = -1
        filled = 0
    }

    private func work() {
        while true {
            condition.lock()
            while ready.isEmpty && !stopped { condition.wait() }
            if ready.isEmpty { condition.unlock(); return }
            let (i, count) = ready.removeFirst()
            busy = true
            condition.unlock()
            if var h = hasher.take() {
                h.update(UnsafeRawBufferPointer(start: blocks[i], count: count))
                hasher = consume h
            }
            condition.lock()
            busy = false
            free.append(i)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until the worker has hashed every full block handed to it.
    private func drain() {
        condition.lock()
        while !ready.isEmpty || busy { condition.wait() }
        condition.unlock()
    }

    package func reset() {
        drain()
        if filling >= 0 {
            condition.lock(); free.append(filling); condition.unlock()
            filling = -1
            filled = 0
        }
        hasher = SHA256Hasher()
    }

    package func finalizeHex() -> String {
        drain()
        var h = hasher.take()!
        if filling >= 0 {
            h.update(UnsafeRawBufferPointer(start: blocks[filling], count: filled))
            condition.lock(); free.append(filling); condition.unlock()
            filling = -1
            filled = 0
        }
        hasher = SHA256Hasher()
        return h.finalizeHex()
    }

    /// Stops the hashing thread; call when the transfer is over.
    package func close() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
