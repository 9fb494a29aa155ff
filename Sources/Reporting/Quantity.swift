/// Durations and sizes as people write them (`500ms`, `7d`, `512MiB`), checked to fit before they
/// become nanoseconds or bytes: the one parser for the configuration file and the command line.
public enum Quantity {
    /// What kind of quantity a text was read as, for messages.
    public enum Kind: Sendable, Equatable {
        case duration, size
    }

    /// Nanoseconds per unit; a bare number is seconds.
    static let durationUnits: [(suffix: String, scale: Double)] = [
        ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86400e9), ("w", 604800e9),
    ]
    /// Bytes per unit, longest suffix first so `MiB` is not read as `B`.
    static let sizeUnits: [(suffix: String, scale: Double)] = [
        ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776), ("KB", 1e3), ("MB", 1e6),
        ("GB", 1e9), ("TB", 1e12), ("k", 1024), ("K", 1024), ("M", 1_048_576), ("G", 1_073_741_824), ("B", 1),
    ]

    /// Parses `500ms`, `30s`, `5m`, `2h`, `7d`, `1w` or a bare number of seconds into nanoseconds.
    public static func duration(_ text: String) throws(QuantityError) -> Int64 {
        try parse(text, kind: .duration, units: durationUnits, bare: 1e9)
    }

    /// Parses a duration, as `duration(_:)`, that must lie in `range`: an interval a loop waits,
    /// a bucket's width. Values beyond it would make no sense and feed time arithmetic near its
    /// limits.
    public static func duration(_ text: String, within range: ClosedRange<Int64>) throws(QuantityError) -> Int64 {
        let value = try duration(text)
        guard range.contains(value) else { throw .outOfRange(text, lower: range.lowerBound, upper: range.upperBound) }
        return value
    }

    /// A duration in the largest unit that states it exactly: `1h`, `90s`, `1500ms`, `7d`.
    public static func durationText(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        for (suffix, scale) in durationUnits.reversed() where nanoseconds >= Int64(scale) && nanoseconds % Int64(scale) == 0 {
            return "\(nanoseconds / Int64(scale))\(suffix)"
        }
        return nanoseconds % 1_000_000 == 0 ? "\(nanoseconds / 1_000_000)ms" : "\(nanoseconds)ns"
    }

    /// Parses `512MiB`, `2GB`, `100k` or a bare number of bytes.
    public static func size(_ text: String) throws(QuantityError) -> Int64 {
        try parse(text, kind: .size, units: sizeUnits, bare: 1)
    }

    /// Nanoseconds from a number of seconds already parsed (a command-line `Double`), with the same checks.
    public static func nanoseconds(seconds: Double) throws(QuantityError) -> Int64 {
        try checked(seconds, scale: 1e9, text: "\(seconds)", kind: .duration)
    }

    private static func parse(
        _ text: String, kind: Kind, units: [(suffix: String, scale: Double)], bare: Double
    ) throws(QuantityError) -> Int64 {
        let whole = trimmed(text)
        var number = Substring(whole)
        var scale = bare
        if let unit = units.first(where: { whole.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.scale
        }
        let digits = trimmed(String(number))
        guard let value = Double(digits) else { throw .malformed(text, kind: kind) }
        // Double reads hexadecimal (`0x10`) too; a quantity is written in decimal.
        if value.isFinite && digits.contains(where: { !"0123456789.eE+-".contains($0) }) { throw .malformed(text, kind: kind) }
        return try checked(value, scale: scale, text: text, kind: kind)
    }

    private static func checked(_ value: Double, scale: Double, text: String, kind: Kind) throws(QuantityError) -> Int64 {
        guard value.isFinite else { throw .notFinite(text, kind: kind) }
        guard value >= 0 else { throw .negative(text, kind: kind) }
        let scaled = value * scale
        // Double(Int64.max) rounds up to 2^63, so anything below it converts without trapping.
        guard scaled < Double(Int64.max) else { throw .tooLarge(text, kind: kind) }
        return Int64(scaled)
    }

    private static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = text.lastIndex(where: { $0 != " " && $0 != "\t" }) ?? first
        return String(text[first...last])
    }
}

/// Why a duration or size was refused.
public enum QuantityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a number with a known unit.
    case malformed(String, kind: Quantity.Kind)
    /// Infinite or not a number.
    case notFinite(String, kind: Quantity.Kind)
    case negative(String, kind: Quantity.Kind)
    /// More nanoseconds or bytes than an `Int64` holds.
    case tooLarge(String, kind: Quantity.Kind)
    /// A duration outside what the setting takes (nanoseconds).
    case outOfRange(String, lower: Int64, upper: Int64)

    public var description: String {
        switch self {
        case .malformed(let text, .duration): "'\(text)' is not a duration such as 500ms, 30s, 5m, 2h or 7d"
        case .malformed(let text, .size): "'\(text)' is not a size such as 512MiB, 2GB or 100k"
        case .notFinite(let text, let kind): "'\(text)' is not a finite \(kind == .duration ? "duration" : "size")"
        case .negative(let text, let kind): "'\(text)' is negative; a \(kind == .duration ? "duration" : "size") cannot be"
        case .tooLarge(let text, .duration): "'\(text)' is longer than the longest duration Telltale can count (106751d)"
        case .tooLarge(let text, .size): "'\(text)' is larger than the largest size Telltale can count (just under 8EiB)"
        case .outOfRange(let text, let lower, let upper):
            "'\(text)' is outside \(Quantity.durationText(lower)) to \(Quantity.durationText(upper)), what this setting takes"
        }
    }
}

/// Counted nouns for people: `1 flow`, `2 flows`.
public enum Count {
    /// `count` and the noun, in the plural unless the count is one (`plural` when not noun + "s").
    public static func text(_ count: some BinaryInteger, _ noun: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
    }
}

/// A command line as a shell would take it back: each argument that needs it in single quotes.
public enum ShellWords {
    public static func join(_ arguments: [String]) -> String {
        arguments.map(quote).joined(separator: " ")
    }

    public static func quote(_ argument: String) -> String {
        let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_./:=@%+,".unicodeScalars.contains($0)
        }
        if plain { return argument }
        var quoted = "'"
        for character in argument { quoted += character == "'" ? "'\\''" : String(character) }
        return quoted + "'"
    }
}
