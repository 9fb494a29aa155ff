/// Canary tokens: random words planted in a prompt whose appearance in egress proves it left.
///
/// A token is `ttc` followed by 20 lowercase base32 characters (100 random bits): one 23-character
/// run of letters and digits, so the normalizer keeps it as a single word, case folding makes an
/// upper-cased copy the same word, and JSON or percent-encoding around it does not split it.
public enum Canary {
    /// Why a token could not be made.
    public enum GenerationError: Error, Equatable, Sendable {
        /// Fewer than `randomByteCount` bytes were given.
        case notEnoughRandomBytes(Int)
    }

    /// The fixed start of every token.
    public static let prefix = "ttc"
    /// Random bytes a token needs (13 bytes hold the 100 bits the 20 characters encode).
    public static let randomByteCount = 13

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A token made from the first `randomByteCount` of `randomBytes`.
    public static func generate(randomBytes: [UInt8]) throws(GenerationError) -> String {
        guard randomBytes.count >= randomByteCount else { throw .notEnoughRandomBytes(randomBytes.count) }
        var out = Array(prefix.utf8)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in randomBytes.prefix(randomByteCount) {
            accumulator = accumulator << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 && out.count < prefix.utf8.count + 20 {
                bits -= 5
                out.append(alphabet[Int((accumulator >> UInt32(bits)) & 31)])
            }
            accumulator &= (1 << UInt32(bits)) - 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The canary tokens planted in this run, looked up by word hash.
///
/// It must be built with the same `Fingerprinter` as the `PromptLedger` egress is matched against;
/// with another one no canary can match.
public struct CanarySet: Sendable {
    /// One planted token.
    public struct ID: Hashable, Sendable {
        /// The token's position in insertion order.
        public let rawValue: Int
    }

    /// The keyed hashes the tokens were hashed with.
    public let fingerprinter: Fingerprinter
    private var byWord: [UInt64: ID] = [:]
    private var labels: [String] = []

    /// An empty set.
    public init(fingerprinter: Fingerprinter) { self.fingerprinter = fingerprinter }

    /// Tokens held.
    public var count: Int { labels.count }
    /// Whether no token is held.
    public var isEmpty: Bool { labels.isEmpty }

    /// Adds a token with a label saying where it was planted; nil if the token does not normalize to
    /// exactly one word. Adding the same token again returns its first id.
    public mutating func insert(token: String, label: String) -> ID? {
        let words = fingerprinter.wordHashes(of: token)
        guard words.count == 1, let word = words.first else { return nil }
        if let existing = byWord[word] { return existing }
        let id = ID(rawValue: labels.count)
        labels.append(label)
        byWord[word] = id
        return id
    }

    /// The label a token was planted with.
    public func label(_ id: ID) -> String? {
        labels.indices.contains(id.rawValue) ? labels[id.rawValue] : nil
    }

    /// The token a word hash is, if any.
    @inline(__always)
    func token(forWord hash: UInt64) -> ID? { byWord.isEmpty ? nil : byWord[hash] }
}
