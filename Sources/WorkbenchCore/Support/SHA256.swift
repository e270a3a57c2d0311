import Foundation
import COpenSSLCrypto

/// SHA-256 through OpenSSL's EVP interface (uses SHA-NI where the CPU has it).
package struct SHA256Hasher: ~Copyable {
    private let context: OpaquePointer

    package init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Feeds raw bytes.
    package mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        EVP_DigestUpdate(context, base, buffer.count)
    }

    /// Feeds the UTF-8 bytes of a string.
    package mutating func update(_ string: String) {
        var copy = string
        copy.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Finishes and returns the lowercase hex digest.
    package consuming func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return Hex.encode(out)
    }
}

/// One-shot SHA-256 helpers.
package enum SHA256 {
    /// Hex digest of a string's UTF-8 bytes.
    package static func hex(_ string: String) -> String {
        var h = SHA256Hasher()
        h.update(string)
        return h.finalizeHex()
    }

    /// Hex digest of bytes (`[UInt8]`, `Data`, any contiguous byte collection).
    package static func hex<Bytes: ContiguousBytes>(_ bytes: Bytes) -> String {
        var h = SHA256Hasher()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }
}

/// A file that could not be read while hashing it.
package struct FileReadError: Error, CustomStringConvertible {
    package var path: String
    package var reason: String
    package var description: String { "\(path): \(reason)" }
}

extension SHA256 {
    /// Hex digest of a file, streamed through a 1 MiB buffer (memory stays flat).
    package static func hexOfFile(_ path: String) throws(FileReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var h = SHA256Hasher()
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(start: buffer, count: n))
        }
        return h.finalizeHex()
    }
}

/// Lowercase hexadecimal encoding.
package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Encodes bytes as lowercase hex.
    package static func encode(_ bytes: [UInt8]) -> String {
        var chars = [UInt8]()
        chars.reserveCapacity(bytes.count * 2)
        for b in bytes {
            chars.append(digits[Int(b >> 4)])
            chars.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }
}

/// SHA-1, only for git object ids.
package enum SHA1 {
    package static func hex(_ bytes: [UInt8]) -> String { Hex.encode(OneShotDigest.digest(bytes, EVP_sha1(), length: 20)) }
}

/// SHA-512, for Python's string seeding of `random.Random` (the multiple-choice scorers' fallback).
package enum SHA512 {
    package static func digest(_ bytes: [UInt8]) -> [UInt8] { OneShotDigest.digest(bytes, EVP_sha512(), length: 64) }
}

/// One EVP digest over a byte array.
enum OneShotDigest {
    static func digest(_ bytes: [UInt8], _ md: OpaquePointer?, length: Int) -> [UInt8] {
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, md, nil)
        bytes.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
        var out = [UInt8](repeating: 0, count: length)
        var written: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &written) }
        return out
    }
}
