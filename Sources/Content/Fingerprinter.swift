/// Turns words into salted 64-bit hashes and word sequences into winnowed shingle fingerprints.
///
/// A word hash is SipHash-2-4 of the normalized word's UTF-8 under the salt; a shingle hash is
/// SipHash-2-4 of `shingleWords` consecutive word hashes under the same salt. Winnowing keeps the
/// smallest shingle hash of every window of `window` consecutive shingles (the rightmost on ties),
/// so any run of `window + shingleWords - 1` words shared by two texts shares a kept fingerprint.
/// The salt lives only in this process, so fingerprints mean nothing outside this run.
public struct Fingerprinter: Sendable, Equatable {
    /// Why a fingerprinter could not be made.
    public enum ConfigurationError: Error, Equatable, Sendable {
        /// The salt was not exactly 16 bytes.
        case saltLength(Int)
        /// Words per shingle outside 1...16.
        case shingleWords(Int)
        /// Winnowing window outside 1...64.
        case window(Int)
    }

    let key0: UInt64
    let key1: UInt64
    /// Words per shingle (k).
    public let shingleWords: Int
    /// Shingles per winnowing window (w).
    public let window: Int

    /// The shortest shared run of words that is guaranteed to share a kept fingerprint: w + k - 1.
    public var guaranteedWords: Int { window + shingleWords - 1 }

    /// Makes a fingerprinter from 16 random bytes chosen once per process.
    public init(salt: some Collection<UInt8>, shingleWords: Int = 4, window: Int = 5) throws(ConfigurationError) {
        let bytes = Array(salt)
        guard bytes.count == 16 else { throw .saltLength(bytes.count) }
        guard (1...16).contains(shingleWords) else { throw .shingleWords(shingleWords) }
        guard (1...64).contains(window) else { throw .window(window) }
        var k0: UInt64 = 0
        var k1: UInt64 = 0
        for i in 0..<8 {
            k0 |= UInt64(bytes[i]) << UInt64(i * 8)
            k1 |= UInt64(bytes[i + 8]) << UInt64(i * 8)
        }
        key0 = k0
        key1 = k1
        self.shingleWords = shingleWords
        self.window = window
    }

    /// Makes a fingerprinter with a fresh random key and the default shingle and window (4 and 5: any
    /// shared run of 8 words shares a fingerprint): what a monitor uses, once per process.
    public init(randomKeyUsing generator: inout some RandomNumberGenerator) {
        key0 = generator.next()
        key1 = generator.next()
        shingleWords = 4
        window = 5
    }

    @inline(__always)
    func hasher() -> SipHash { SipHash(key0: key0, key1: key1) }

    /// The hash of one normalized word given as UTF-8.
    @inline(__always)
    func wordHash(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = hasher()
        h.append(bytes: utf8)
        return h.finalize()
    }

    /// The hash of `shingleWords` consecutive word hashes.
    @inline(__always)
    func shingleHash(_ words: UnsafeBufferPointer<UInt64>) -> UInt64 {
        shingleHash(ring: words, start: 0)
    }

    /// The hash of the `ring.count` word hashes of a ring buffer, oldest at `start`.
    @inline(__always)
    func shingleHash(ring: UnsafeBufferPointer<UInt64>, start: Int) -> UInt64 {
        var h = hasher()
        // A first block no word hash input has keeps the two hash domains apart.
        h.append(word: 0x7368_696e_676c_6500)
        var i = start
        for _ in 0..<ring.count {
            h.append(word: ring[i])
            i += 1
            if i == ring.count { i = 0 }
        }
        return h.finalize()
    }

    /// The word hashes of a text, normalized as `TextNormalizer` does.
    public func wordHashes(of text: String) -> [UInt64] {
        var scanner = WordScanner()
        var sink = WordSink(fingerprinter: self)
        var copy = text
        copy.withUTF8 { scanner.feed($0, sink: &sink) }
        scanner.finish(sink: &sink)
        return sink.hashes
    }

    /// The shingle hashes of a word-hash sequence: one per position where `shingleWords` words start.
    public func shingles(of wordHashes: [UInt64]) -> [UInt64] {
        guard wordHashes.count >= shingleWords else { return [] }
        var out: [UInt64] = []
        out.reserveCapacity(wordHashes.count - shingleWords + 1)
        wordHashes.withUnsafeBufferPointer { words in
            for start in 0...(words.count - shingleWords) {
                out.append(shingleHash(UnsafeBufferPointer(rebasing: words[start..<(start + shingleWords)])))
            }
        }
        return out
    }

    /// The winnowed fingerprints of a shingle sequence as (hash, shingle position), in position order.
    ///
    /// A sequence shorter than one window keeps its single smallest shingle.
    public func winnow(_ shingles: [UInt64]) -> [(hash: UInt64, position: Int)] {
        guard !shingles.isEmpty else { return [] }
        var kept: [(hash: UInt64, position: Int)] = []
        let w = min(window, shingles.count)
        var lastKept = -1
        // O(n·w) with w ≤ 64: simpler than a monotone deque and fast enough at w = 5.
        for start in 0...(shingles.count - w) {
            var best = start
            for i in start..<(start + w) where shingles[i] <= shingles[best] { best = i }
            if best != lastKept {
                kept.append((shingles[best], best))
                lastKept = best
            }
        }
        return kept
    }
}
