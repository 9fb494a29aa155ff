internal import Foundation

/// Splits text into normalized words: NFKC, Unicode full case folding, then maximal runs of letters
/// and digits, with JSON escapes and percent-encoding decoded first (see `WordStream`).
public enum TextNormalizer {
    /// The normalized words of a text, in order.
    public static func words(of text: String) -> [String] {
        var stream = WordStream()
        var words = stream.words(Array(text.utf8))
        words += stream.finishWords()
        return words
    }

    /// Normalizes one raw word that holds non-ASCII characters and passes on the words it becomes.
    static func normalizeWord(_ raw: UnsafeBufferPointer<UInt8>, sink: inout WordSink) {
        let text = String(decoding: raw, as: UTF8.self)
        let folded = text.precomposedStringWithCompatibilityMapping
            .folding(options: [.caseInsensitive], locale: nil)
            // Folding can produce characters NFKC would change again (NFKC_Casefold closure).
            .precomposedStringWithCompatibilityMapping
        var piece: [UInt8] = []
        piece.reserveCapacity(raw.count + 8)
        for scalar in folded.unicodeScalars {
            if WordScanner.isWordScalar(scalar) {
                piece.append(contentsOf: scalar.utf8)
            } else if !piece.isEmpty {
                piece.withUnsafeBufferPointer { sink.word($0) }
                piece.removeAll(keepingCapacity: true)
            }
        }
        if !piece.isEmpty { piece.withUnsafeBufferPointer { sink.word($0) } }
    }
}

/// An incremental word splitter for one byte stream (an egress flow direction, a prompt text).
///
/// Fed chunks in order, it carries a partial word, a split UTF-8 sequence and a split escape across
/// chunk boundaries. Before words are formed it decodes what a forwarded prompt looks like in
/// plaintext: percent-encoding (`%C3%A9`; `+` is a separator anyway), JSON string escapes
/// (`\"`, `\n`, `\u00e9`, surrogate pairs, doubly escaped backslashes), and dotted DNS names need
/// nothing since dots and hyphens separate words. Invalid UTF-8 separates words. A run of word
/// characters longer than 64 bytes of UTF-8 is cut into 64-byte words; each word is normalized on
/// its own, which equals normalizing the whole text because words never span a separator.
public struct WordStream: Sendable {
    private var scanner = WordScanner()

    /// A stream with nothing pending.
    public init() {}

    /// The normalized words completed by this chunk, as text (for tests and diagnostics).
    public mutating func words(_ bytes: some Collection<UInt8>) -> [String] {
        var sink = WordSink()
        feed(bytes, sink: &sink)
        return sink.strings
    }

    /// The last word, if the stream ended inside one.
    public mutating func finishWords() -> [String] {
        var sink = WordSink()
        scanner.finish(sink: &sink)
        return sink.strings
    }

    /// The word hashes completed by this chunk.
    public mutating func wordHashes(_ bytes: some Collection<UInt8>, fingerprinter: Fingerprinter) -> [UInt64] {
        var sink = WordSink(fingerprinter: fingerprinter, capacity: bytes.count / 6 + 1)
        feed(bytes, sink: &sink)
        return sink.hashes
    }

    /// The hash of the last word, if the stream ended inside one.
    public mutating func finishWordHashes(fingerprinter: Fingerprinter) -> [UInt64] {
        var sink = WordSink(fingerprinter: fingerprinter)
        scanner.finish(sink: &sink)
        return sink.hashes
    }

    /// Feeds a chunk, contiguous or not, into a sink.
    mutating func feed(_ bytes: some Collection<UInt8>, sink: inout WordSink) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { scanner.feed($0, sink: &sink) }
        if done == nil {
            Array(bytes).withUnsafeBufferPointer { scanner.feed($0, sink: &sink) }
        }
    }

    mutating func finish(sink: inout WordSink) { scanner.finish(sink: &sink) }
}
