/// CPython's `random.Random`, as far as the multiple-choice scorer needs it: seeding from an
/// integer (or a string, version 2) and `choice`.
///
/// Seeding (CPython `random_seed`): the absolute value of the integer is cut into 32-bit words,
/// least significant first (one zero word for 0), and fed to MT19937's `init_by_array`. A string
/// seed becomes the integer of its UTF-8 bytes followed by their SHA-512 digest, big-endian.
/// `choice(seq)` draws `getrandbits(k)` with `k` the bit length of `len(seq)` until the value is
/// in range (`_randbelow_with_getrandbits`).
package struct PythonRandom {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 625

    /// Seeds from the little-endian 32-bit words of a non-negative integer.
    package init(words: [UInt32]) {
        initGenrand(19_650_218)
        let key = words.isEmpty ? [0] : words
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(truncatingIfNeeded: j)
            i += 1; j += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(truncatingIfNeeded: i)
            i += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
        }
        state[0] = 0x8000_0000
        index = 624
    }

    /// `random.Random(n)` for an integer given as decimal text (any size, optional sign).
    package init?(decimal text: String) {
        guard let words = PythonRandom.words(ofDecimal: text) else { return nil }
        self.init(words: words)
    }

    /// `random.Random(s)` for a string seed (version 2).
    package init(string: String, sha512: ([UInt8]) -> [UInt8]) {
        let bytes = Array(string.utf8)
        let big = bytes + sha512(bytes)  // big-endian integer
        var words: [UInt32] = []
        var k = big.count
        while k > 0 {
            var w: UInt32 = 0
            for b in big[max(0, k - 4)..<k] { w = w << 8 | UInt32(b) }
            words.append(w)
            k -= 4
        }
        while words.count > 1, words.last == 0 { words.removeLast() }
        self.init(words: words)
    }

    private mutating func initGenrand(_ s: UInt32) {
        state[0] = s
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    package mutating func nextUInt32() -> UInt32 {
        if index >= 624 {
            for k in 0..<624 {
                let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7FFF_FFFF)
                var v = state[(k + 397) % 624] ^ (y >> 1)
                if y & 1 != 0 { v ^= 0x9908_B0DF }
                state[k] = v
            }
            index = 0
        }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `getrandbits(k)` for 1 <= k <= 32.
    package mutating func getrandbits(_ k: Int) -> UInt32 {
        precondition(k >= 1 && k <= 32)
        return nextUInt32() >> UInt32(32 - k)
    }

    /// `randbelow(n)` as `Random.choice` uses it.
    package mutating func below(_ n: Int) -> Int {
        precondition(n > 0 && n < 1 << 32)
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `choice(seq)`.
    package mutating func choice<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// The little-endian 32-bit words of |n| for decimal text; nil when it is not an integer.
    package static func words(ofDecimal text: String) -> [UInt32]? {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var words: [UInt32] = [0]  // little-endian magnitude
        for ch in digits.utf8 {
            var carry = UInt64(ch - 0x30)
            for i in words.indices {
                let v = UInt64(words[i]) * 10 + carry
                words[i] = UInt32(truncatingIfNeeded: v)
                carry = v >> 32
            }
            if carry > 0 { words.append(UInt32(carry)) }
        }
        while words.count > 1, words.last == 0 { words.removeLast() }
        return words
    }
}
