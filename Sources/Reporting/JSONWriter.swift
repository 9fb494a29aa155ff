/// Writes JSON objects with keys in a fixed order (the contract's order), with correct escaping.
///
/// The text grows as UTF-8 bytes: appending to a `String` piece by piece cost more than the rest of
/// a replay's row output together.
public struct JSONWriter {
    /// The JSON written so far, as UTF-8.
    public private(set) var bytes: [UInt8] = []
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    /// One entry per open object or array: whether it holds a member already.
    private var hasMember: [Bool] = []
    private var afterKey = false

    public init() { bytes.reserveCapacity(1024) }

    public mutating func beginObject() { beforeValue(); bytes.append(0x7b); hasMember.append(false) }
    public mutating func endObject() { bytes.append(0x7d); hasMember.removeLast() }
    public mutating func beginArray() { beforeValue(); bytes.append(0x5b); hasMember.append(false) }
    public mutating func endArray() { bytes.append(0x5d); hasMember.removeLast() }

    public mutating func key(_ name: String) {
        beforeValue()
        JSONWriter.appendString(name, to: &bytes)
        bytes.append(0x3a)
        afterKey = true
    }

    /// Writes the comma between members; a value right after its key needs none.
    private mutating func beforeValue() {
        if afterKey { afterKey = false; return }
        guard let last = hasMember.indices.last else { return }
        if hasMember[last] { bytes.append(0x2c) }
        hasMember[last] = true
    }

    public mutating func string(_ value: String?) {
        beforeValue()
        if let value { JSONWriter.appendString(value, to: &bytes) } else { append("null") }
    }

    public mutating func int<T: BinaryInteger>(_ value: T?) {
        beforeValue()
        guard let value else { return append("null") }
        if let small = Int64(exactly: value) {
            // Digits straight into the buffer: no String per number.
            if small < 0 { bytes.append(0x2d) }
            var magnitude = small.magnitude
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 20 digits, least significant first
            var count = 0
            withUnsafeMutableBytes(of: &digits) { buffer in
                repeat {
                    buffer[count] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                    magnitude /= 10
                    count += 1
                } while magnitude > 0
            }
            withUnsafeBytes(of: &digits) { buffer in
                for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
            }
        } else {
            append(String(value))
        }
    }

    public mutating func double(_ value: Double?) {
        beforeValue()
        if let value, value.isFinite { append(String(value)) } else { append("null") }
    }

    public mutating func bool(_ value: Bool?) {
        beforeValue()
        if let value { append(value ? "true" : "false") } else { append("null") }
    }

    /// Writes already-formatted JSON number text (such as exact decimal seconds).
    public mutating func number(text value: String) { beforeValue(); append(value) }

    public mutating func null() { beforeValue(); append("null") }

    private mutating func append(_ raw: String) { bytes.append(contentsOf: raw.utf8) }

    /// Appends `value` as a JSON string literal to UTF-8 bytes (see `appendString(_:to:)` for a `String`).
    public static func appendString(_ value: String, to out: inout [UInt8]) {
        var value = value
        let plain = value.withUTF8 { utf8 in
            // Most strings need no escaping: append them whole.
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5c || byte == 0x7f || byte == 0xc2 { return false }
            out.append(0x22)
            out.append(contentsOf: utf8)
            out.append(0x22)
            return true
        }
        if plain { return }
        var escaped = ""
        appendString(value, to: &escaped)
        out.append(contentsOf: escaped.utf8)
    }

    /// Appends `value` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendString(_ value: String, to out: inout String) {
        // Most strings need no escaping: append them whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c || $0 == 0x7f || $0 == 0xc2 }) {
            out += "\""
            out += value
            out += "\""
            return
        }
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (scalar.value >= 0x80 && scalar.value < 0xa0) {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSONWriter {
    /// One JSON value per item, written by `write`: as NDJSON (a line each) when `ndjson`, else as a
    /// JSON array with one item a line (`[]` when there are none).
    static func list<Item>(_ items: [Item], ndjson: Bool, _ write: (Item, inout JSONWriter) -> Void) -> String {
        let parts = items.map { item in
            var w = JSONWriter()
            write(item, &w)
            return w.text
        }
        if ndjson { return parts.map { $0 + "\n" }.joined() }
        return parts.isEmpty ? "[]\n" : "[\n" + parts.joined(separator: ",\n") + "\n]\n"
    }
}
