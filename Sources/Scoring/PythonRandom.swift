import WorkbenchCore

/// CPython's `random.Random`, as far as the multiple-choice scorer needs it: seeding from an
/// integer (or a string, version 2) and `choice`.
///
/// Seeding (CPython `random_seed`): the absolute value of the integer is cut into 32-bit words,
/// least significant first (one zero word for 0), and fed to MT19937's `init_by_array`. A string
/// seed becomes the integer of its UTF-8 bytes followed by their SHA-512 digest, big-endian.
/// `choice(seq)` draws `getrandbits(k)` with `k` the bit length of `len(seq)` until the value is
/// in range (`_randbelow_with_getrandbits`).
package struct PythonRandom {
    private var state: [UInt32]
    /// Next output position; outputs are produced lazily, one state word at a time, in the order
    /// MT19937's block regeneration would produce them (a scorer draws one to a few numbers).
    private var index = 0
    /// Whether `state[0..<index]` already holds the regenerated block.
    private var generated = 0

    /// `init_genrand(19650218)`, the starting point of every `init_by_array`: computed once.
    fileprivate static let genrandBase: [UInt32] = {
        var mt = [UInt32](repeating: 0, count: 624)
        mt[0] = 19_650_218
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
        return mt
    }()

    /// Seeds from the little-endian 32-bit words of a non-negative integer.
    package init(words: [UInt32]) {
        var mt = Self.genrandBase
        let key = words.isEmpty ? [0] : words
        mt.withUnsafeMutableBufferPointer { m in
            key.withUnsafeBufferPointer { k in
                var i = 1, j = 0
                for _ in 0..<max(624, k.count) {
                    m[i] = (m[i] ^ ((m[i - 1] ^ (m[i - 1] >> 30)) &* 1_664_525)) &+ k[j] &+ UInt32(truncatingIfNeeded: j)
                    i += 1; j += 1
                    if i >= 624 { m[0] = m[623]; i = 1 }
                    if j >= k.count { j = 0 }
                }
                for _ in 0..<623 {
                    m[i] = (m[i] ^ ((m[i - 1] ^ (m[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(truncatingIfNeeded: i)
                    i += 1
                    if i >= 624 { m[0] = m[623]; i = 1 }
                }
                m[0] = 0x8000_0000
            }
        }
        state = mt
    }

    /// `random.Random(n)` for an integer given as decimal text (any size, optional sign).
    package init?(decimal text: String) {
        guard let words = PythonRandom.words(ofDecimal: text) else { return nil }
        self.init(words: words)
    }

    /// `random.Random(s)` for a string seed (version 2).
    package init(string: String) {
        let bytes = Array(string.utf8)
        let big = bytes + SHA512.digest(bytes)  // big-endian integer
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

    package mutating func nextUInt32() -> UInt32 {
        if index >= 624 {  // past the first block: regenerate the rest of it, then start over
            while generated < 624 { regenerate(generated); generated += 1 }
            index = 0
            generated = 0
        }
        // Word k of the new block needs the new k and k+1 (old until regenerated) and k+397:
        // for k < 227, k+397 is still old; beyond, it was regenerated earlier in this block.
        while generated <= index { regenerate(generated); generated += 1 }
        let y = state[index]
        index += 1
        return Self.temper(y)
    }

    /// MT19937's output tempering.
    @inline(__always)
    static func temper(_ x: UInt32) -> UInt32 {
        var y = x
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// MT19937's block regeneration for one word (state[k] from state[k], state[k+1], state[k+397]).
    private mutating func regenerate(_ k: Int) {
        let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7FFF_FFFF)
        var v = state[(k + 397) % 624] ^ (y >> 1)
        if y & 1 != 0 { v ^= 0x9908_B0DF }
        state[k] = v
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

extension PythonRandom {
    /// A generator whose seeding is already done (`state` as `init_by_array` leaves it).
    init(seededState: [UInt32]) {
        precondition(seededState.count == 624)
        state = seededState
    }

    /// Generators for many integer seeds below 2^32 (the usual `syn_id`s), seeded sixteen at a
    /// time side by side in SIMD lanes: each seeding is a chain of 1,247 dependent multiplies,
    /// so one chain per lane runs several seedings in the time of one. Same results as
    /// `PythonRandom(words: [seed])`.
    package static func seeded(batch seeds: [UInt32]) -> [PythonRandom] {
        var out: [PythonRandom] = []
        out.reserveCapacity(seeds.count)
        forEachSeededBatch(seeds) { m, _, count in
            for l in 0..<count { out.append(PythonRandom(seededState: (0..<624).map { m[$0][l] })) }
        }
        return out
    }

    /// Seeds `seeds` sixteen at a time and hands each batch's states (lane l = seeds[start + l])
    /// to `body`.
    fileprivate static func forEachSeededBatch(
        _ seeds: [UInt32], _ body: (UnsafeMutableBufferPointer<SIMD16<UInt32>>, _ start: Int, _ count: Int) -> Void
    ) {
        var m = [SIMD16<UInt32>](repeating: .zero, count: 624)
        var start = 0
        while start < seeds.count {
            let count = min(16, seeds.count - start)
            var key = SIMD16<UInt32>.zero
            for l in 0..<count { key[l] = seeds[start + l] }
            m.withUnsafeMutableBufferPointer { m in
                seedLanes(m, key: key)
                body(m, start, count)
            }
            start += count
        }
    }
}

extension PythonRandom {
    /// `random.Random(seed).choice(range(n))` for many seeds below 2^32: the seedings run sixteen
    /// at a time in SIMD lanes (`seeded(batch:)`), and each lane's draws are read straight from the
    /// seeded state (the first 227 outputs of a block need no regenerated word).
    package static func choices(batch seeds: [UInt32], count n: Int) -> [Int] {
        precondition(n > 0 && n < 1 << 32)
        let bits = Int.bitWidth - n.leadingZeroBitCount
        var out = [Int](repeating: 0, count: seeds.count)
        forEachSeededBatch(seeds) { m, start, count in
            for l in 0..<count {
                var d = 0
                var r = Int.max
                while d < 227 {
                    let y = (m[d][l] & 0x8000_0000) | (m[d + 1][l] & 0x7FFF_FFFF)
                    var v = m[d + 397][l] ^ (y >> 1)
                    if y & 1 != 0 { v ^= 0x9908_B0DF }
                    r = Int(temper(v) >> UInt32(32 - bits))
                    d += 1
                    if r < n { break }
                }
                if r >= n {  // more than 227 rejections: finish on a full copy of the lane
                    var g = PythonRandom(seededState: (0..<624).map { m[$0][l] })
                    for _ in 0..<227 { _ = g.nextUInt32() }
                    r = g.below(n)
                }
                out[start + l] = r
            }
        }
        return out
    }

    /// `init_by_array` with a one-word key, for sixteen keys side by side.
    fileprivate static func seedLanes(_ m: UnsafeMutableBufferPointer<SIMD16<UInt32>>, key: SIMD16<UInt32>) {
        typealias V = SIMD16<UInt32>
        genrandBase.withUnsafeBufferPointer { base in
            for w in 0..<624 { m[w] = V(repeating: base[w]) }
        }
        var i = 1
        var p = m[0]
        for _ in 0..<624 {  // key length 1: j stays 0
            let v = (m[i] ^ ((p ^ (p &>> 30)) &* 1_664_525)) &+ key
            m[i] = v
            p = v
            i += 1
            if i >= 624 { m[0] = m[623]; i = 1 }
        }
        for _ in 0..<623 {
            let v = (m[i] ^ ((p ^ (p &>> 30)) &* 1_566_083_941)) &- V(repeating: UInt32(truncatingIfNeeded: i))
            m[i] = v
            p = v
            i += 1
            if i >= 624 { m[0] = m[623]; i = 1 }
        }
        m[0] = V(repeating: 0x8000_0000)
    }
}
