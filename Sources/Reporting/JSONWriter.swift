/// Writes JSON objects with keys in a fixed order (the contract's order), with correct escaping.
public struct JSONWriter {
    public private(set) var text = ""
    /// One entry per open object or array: whether it holds a member already.
    private var hasMember: [Bool] = []
    private var afterKey = false

    public init() {}

    public mutating func beginObject() { beforeValue(); text += "{"; hasMember.append(false) }
    public mutating func endObject() { text += "}"; hasMember.removeLast() }
    public mutating func beginArray() { beforeValue(); text += "["; hasMember.append(false) }
    public mutating func endArray() { text += "]"; hasMember.removeLast() }

    public mutating func key(_ name: String) {
        beforeValue()
        JSONWriter.appendString(name, to: &text)
        text += ":"
        afterKey = true
    }

    /// Writes the comma between members; a value right after its key needs none.
    private mutating func beforeValue() {
        if afterKey { afterKey = false; return }
        guard let last = hasMember.indices.last else { return }
        if hasMember[last] { text += "," }
        hasMember[last] = true
    }

    public mutating func string(_ value: String?) {
        beforeValue()
        if let value { JSONWriter.appendString(value, to: &text) } else { text += "null" }
    }

    public mutating func int<T: BinaryInteger>(_ value: T?) {
        beforeValue()
        if let value { text += String(value) } else { text += "null" }
    }

    public mutating func double(_ value: Double?) {
        beforeValue()
        if let value, value.isFinite { text += String(value) } else { text += "null" }
    }

    public mutating func bool(_ value: Bool?) {
        beforeValue()
        if let value { text += value ? "true" : "false" } else { text += "null" }
    }

    /// Writes already-formatted JSON number text (such as exact decimal seconds).
    public mutating func number(text value: String) { beforeValue(); text += value }

    public mutating func null() { beforeValue(); text += "null" }

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
