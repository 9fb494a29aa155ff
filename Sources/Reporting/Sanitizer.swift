/// Makes text from the wire or /proc safe to print: control characters (C0, DEL, C1, and the Unicode
/// bidirectional overrides) become visible escapes, so no escape sequence reaches a terminal.
public enum Sanitizer {
    public static func clean(_ text: String) -> String {
        var needsWork = false
        for scalar in text.unicodeScalars where isUnsafe(scalar) {
            needsWork = true
            break
        }
        guard needsWork else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                let hex = String(scalar.value, radix: 16)
                for s in ("\\x" + (hex.count < 2 ? "0" + hex : hex)).unicodeScalars { out.append(s) }
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || v == 0x7f || (v >= 0x80 && v < 0xa0) || (v >= 0x202a && v <= 0x202e)
            || (v >= 0x2066 && v <= 0x2069)
    }
}
