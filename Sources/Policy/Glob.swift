/// A shell-style pattern: `*` any run of characters (slashes included), `?` one character,
/// `[abc]`, `[a-z]` and `[!abc]` one character of a set. Matched on UTF-8 bytes; case-sensitive
/// unless built case-insensitive (domain names).
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let bytes: [UInt8]
    private let caseInsensitive: Bool
    /// True when the pattern has no wildcard: it matches only itself.
    public let isLiteral: Bool

    /// Why a pattern is not a glob.
    public enum Problem: Error, Equatable, Sendable {
        case empty
        case unclosedBracket
        case emptyBracket
        case trailingBackslash
    }

    public init(_ pattern: String, caseInsensitive: Bool = false) throws(Problem) {
        guard !pattern.isEmpty else { throw .empty }
        let text = caseInsensitive ? pattern.lowercased() : pattern
        let bytes = Array(text.utf8)
        var i = 0
        var literal = true
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "*"), UInt8(ascii: "?"): literal = false
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { throw .trailingBackslash }
                literal = false
                i += 1
            case UInt8(ascii: "["):
                literal = false
                var j = i + 1
                if j < bytes.count && bytes[j] == UInt8(ascii: "!") { j += 1 }
                let first = j
                if j < bytes.count && bytes[j] == UInt8(ascii: "]") { j += 1 }  // "]" first is a member
                while j < bytes.count && bytes[j] != UInt8(ascii: "]") { j += 1 }
                guard j < bytes.count else { throw .unclosedBracket }
                guard j > first else { throw .emptyBracket }
                i = j
            default: break
            }
            i += 1
        }
        self.pattern = pattern
        self.bytes = bytes
        self.caseInsensitive = caseInsensitive
        isLiteral = literal
    }

    public var description: String { pattern }

    public func matches(_ text: some StringProtocol) -> Bool {
        if caseInsensitive {
            var utf8 = Array(text.utf8)
            for k in utf8.indices where utf8[k] >= 65 && utf8[k] <= 90 { utf8[k] += 32 }
            return Glob.match(bytes, utf8[...])
        }
        var text = String(text)
        return text.withUTF8 { Glob.match(bytes, $0[...]) }
    }

    /// Iterative matcher with one backtracking point for the last `*` (linear in practice).
    private static func match<C: RandomAccessCollection>(_ p: [UInt8], _ t: C) -> Bool where C.Element == UInt8, C.Index == Int {
        var pi = 0, ti = t.startIndex
        var starP = -1, starT = 0
        while ti < t.endIndex {
            if pi < p.count {
                let c = p[pi]
                if c == UInt8(ascii: "*") {
                    starP = pi
                    starT = ti
                    pi += 1
                    continue
                }
                if c == UInt8(ascii: "?") {
                    pi += 1
                    ti += 1
                    continue
                }
                if c == UInt8(ascii: "[") {
                    if let (matched, next) = bracket(p, pi, t[ti]), matched {
                        pi = next
                        ti += 1
                        continue
                    }
                } else if c == UInt8(ascii: "\\") && pi + 1 < p.count {
                    if p[pi + 1] == t[ti] {
                        pi += 2
                        ti += 1
                        continue
                    }
                } else if c == t[ti] {
                    pi += 1
                    ti += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            pi = starP + 1
            starT += 1
            ti = starT
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// Whether `byte` is in the bracket expression starting at `start`, and the index after it.
    private static func bracket(_ p: [UInt8], _ start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var j = start + 1
        var negate = false
        if j < p.count && p[j] == UInt8(ascii: "!") {
            negate = true
            j += 1
        }
        var found = false
        var first = true
        while j < p.count && (p[j] != UInt8(ascii: "]") || first) {
            first = false
            if j + 2 < p.count && p[j + 1] == UInt8(ascii: "-") && p[j + 2] != UInt8(ascii: "]") {
                if byte >= p[j] && byte <= p[j + 2] { found = true }
                j += 3
            } else {
                if byte == p[j] { found = true }
                j += 1
            }
        }
        guard j < p.count else { return nil }
        return (found != negate, j + 1)
    }
}
