/// A cheap scan of YAML text, before the recursive parser sees it, for what would make parsing or
/// walking the document unbounded: deep nesting (the parser recurses once per level and overflows
/// the stack a few thousand levels down), anchors and aliases (an alias bomb of a hundred kilobytes
/// expands to gigabytes when walked), and sheer size.
///
/// The nesting count is conservative: it counts indentation levels, `- ` and `? ` entries and
/// open brackets, so it may count a level twice but never misses one.
public enum YAMLBounds {
    /// The deepest nesting accepted; rules and configuration files use fewer than ten levels.
    public static let maximumDepth = 64
    /// The largest text accepted, in bytes.
    public static let maximumSize = 4 << 20

    /// Why the text is refused.
    public enum Violation: Error, Equatable, Sendable, CustomStringConvertible {
        case tooLarge(bytes: Int)
        case tooDeep(line: Int)
        case anchorOrAlias(line: Int)

        /// The line the problem was found on, when there is one.
        public var line: Int? {
            switch self {
            case .tooLarge: nil
            case .tooDeep(let line), .anchorOrAlias(let line): line
            }
        }

        public var description: String {
            switch self {
            case .tooLarge(let bytes):
                "the text is \(bytes) bytes, larger than the \(YAMLBounds.maximumSize >> 20) MiB accepted"
            case .tooDeep:
                "nested more than \(YAMLBounds.maximumDepth) levels deep (counting indentation, '- ' entries and brackets): refused before parsing"
            case .anchorOrAlias:
                "YAML anchors and aliases (& and * before a value) are not accepted, since a few can expand to gigabytes; quote a value that starts with & or *"
            }
        }
    }

    /// Checks `text`; throws the first violation found.
    public static func check(_ text: String) throws(Violation) {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumSize else { throw .tooLarge(bytes: bytes.count) }
        var scanner = Scanner(bytes: bytes)
        try scanner.run()
    }

    struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        /// Columns of the open block collections, innermost last.
        var indents: [Int] = []
        var flowDepth = 0
        /// Inside a quoted scalar (which may span lines): its quote byte.
        var quote: UInt8?
        /// Inside a block scalar (`|` or `>`): lines indented more than this belong to it.
        var blockScalarParent: Int?

        static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
        static let carriageReturn = UInt8(ascii: "\r")

        func isBlank(_ i: Int) -> Bool {
            i >= bytes.count || bytes[i] == Self.space || bytes[i] == Self.tab || bytes[i] == Self.newline
                || bytes[i] == Self.carriageReturn
        }

        mutating func run() throws(Violation) {
            while index < bytes.count {
                try scanLine()
                line += 1
            }
        }

        /// Scans from `index` to the end of the line, leaving `index` after its newline.
        mutating func scanLine() throws(Violation) {
            let start = index
            var end = start
            while end < bytes.count, bytes[end] != Self.newline { end += 1 }
            defer { index = end + 1 }
            var i = start
            if quote == nil {
                var indent = 0
                while i < end, bytes[i] == Self.space { i += 1; indent += 1 }
                // Blank and comment-only lines say nothing about structure.
                if i == end || bytes[i] == UInt8(ascii: "#") || bytes[i] == Self.carriageReturn { return }
                if let parent = blockScalarParent {
                    if indent > parent { return }
                    blockScalarParent = nil
                }
                if flowDepth == 0 {
                    while let last = indents.last, last > indent { indents.removeLast() }
                    if (indents.last ?? -1) < indent { indents.append(indent) }
                    try checkDepth(inline: 0)
                }
                try scanContent(from: i, to: end, indent: indent)
            } else {
                try scanContent(from: i, to: end, indent: 0)
            }
        }

        mutating func checkDepth(inline: Int) throws(Violation) {
            if indents.count + inline + flowDepth > YAMLBounds.maximumDepth { throw .tooDeep(line: line) }
        }

        mutating func scanContent(from first: Int, to end: Int, indent: Int) throws(Violation) {
            var i = first
            var inline = 0
            var nodeStart = quote == nil
            while i < end {
                let b = bytes[i]
                if let q = quote {
                    if q == UInt8(ascii: "\"") && b == UInt8(ascii: "\\") { i += 2; continue }
                    if b == q {
                        if q == UInt8(ascii: "'"), i + 1 < end, bytes[i + 1] == q { i += 2; continue }
                        quote = nil
                    }
                    i += 1
                    continue
                }
                if b == Self.space || b == Self.tab { i += 1; continue }
                if nodeStart {
                    switch b {
                    case UInt8(ascii: "&"), UInt8(ascii: "*"):
                        throw .anchorOrAlias(line: line)
                    case UInt8(ascii: "!"):
                        // A tag; what follows it is still the start of the node.
                        while i < end, !isBlank(i) { i += 1 }
                        continue
                    case UInt8(ascii: "-"), UInt8(ascii: "?"):
                        if isBlank(i + 1) && flowDepth == 0 || b == UInt8(ascii: "?") && isBlank(i + 1) {
                            inline += 1
                            try checkDepth(inline: inline)
                            i += 1
                            continue
                        }
                    case UInt8(ascii: "|"), UInt8(ascii: ">"):
                        if flowDepth == 0 {
                            blockScalarParent = indent
                            return
                        }
                    case UInt8(ascii: "'"), UInt8(ascii: "\""):
                        quote = b
                        nodeStart = false
                        i += 1
                        continue
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        flowDepth += 1
                        try checkDepth(inline: inline)
                        i += 1
                        continue
                    case UInt8(ascii: "#"):
                        return
                    default:
                        break
                    }
                    nodeStart = false
                }
                switch b {
                case UInt8(ascii: "#") where i > first && (bytes[i - 1] == Self.space || bytes[i - 1] == Self.tab):
                    return
                case UInt8(ascii: ":") where isBlank(i + 1) || flowDepth > 0 && i + 1 < end && (bytes[i + 1] == UInt8(ascii: ",")
                    || bytes[i + 1] == UInt8(ascii: "]") || bytes[i + 1] == UInt8(ascii: "}")):
                    nodeStart = true
                case UInt8(ascii: ",") where flowDepth > 0:
                    nodeStart = true
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    if flowDepth > 0 {
                        flowDepth += 1
                        try checkDepth(inline: inline)
                        nodeStart = true
                    }
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if flowDepth > 0 { flowDepth -= 1 }
                default:
                    break
                }
                i += 1
            }
        }
    }
}
