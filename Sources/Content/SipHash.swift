/// SipHash-2-4 with a 128-bit key: the keyed hash behind every word and shingle fingerprint.
///
/// Written here rather than taken from a library so that the module stays dependency-free and the
/// same bytes hash the same way on every platform (Swift's `Hasher` is seeded per process and not
/// specified).
struct SipHash {
    private var v0: UInt64
    private var v1: UInt64
    private var v2: UInt64
    private var v3: UInt64
    private var tail: UInt64 = 0
    private var tailBytes = 0
    private var length = 0

    init(key0: UInt64, key1: UInt64) {
        v0 = key0 ^ 0x736f_6d65_7073_6575
        v1 = key1 ^ 0x646f_7261_6e64_6f6d
        v2 = key0 ^ 0x6c79_6765_6e65_7261
        v3 = key1 ^ 0x7465_6462_7974_6573
    }

    @inline(__always)
    private mutating func round() {
        v0 &+= v1; v1 = rotate(v1, 13); v1 ^= v0; v0 = rotate(v0, 32)
        v2 &+= v3; v3 = rotate(v3, 16); v3 ^= v2
        v0 &+= v3; v3 = rotate(v3, 21); v3 ^= v0
        v2 &+= v1; v1 = rotate(v1, 17); v1 ^= v2; v2 = rotate(v2, 32)
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ by: UInt64) -> UInt64 { (x << by) | (x >> (64 &- by)) }

    @inline(__always)
    private mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    /// Appends eight bytes, little-endian; only valid while no partial byte block is pending.
    @inline(__always)
    mutating func append(word: UInt64) {
        compress(word)
        length &+= 8
    }

    /// Appends bytes one by one, carrying a partial 8-byte block.
    mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
        var index = 0
        let count = bytes.count
        if tailBytes == 0 {
            while count - index >= 8 {
                var m: UInt64 = 0
                for shift in 0..<8 { m |= UInt64(bytes[index + shift]) << UInt64(shift * 8) }
                compress(m)
                index += 8
            }
        }
        while index < count {
            tail |= UInt64(bytes[index]) << UInt64(tailBytes * 8)
            tailBytes += 1
            index += 1
            if tailBytes == 8 {
                compress(tail)
                tail = 0
                tailBytes = 0
            }
        }
        length &+= count
    }

    /// The 64-bit digest.
    mutating func finalize() -> UInt64 {
        let b = (UInt64(truncatingIfNeeded: length) << 56) | tail
        compress(b)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}
