/// Makes text from the wire or /proc safe to print: control characters (C0, DEL, C1, and the Unicode
/// bidirectional overrides) become visible escapes, so no escape sequence reaches a terminal.
public enum Sanitizer {
    /// Text as markup shows it literally (HTML, XML, the Desktop Notifications body): `&`, `<`, `>`
    /// and both quotes as entities, so a name from the wire cannot become a tag or a link.
    public static func markup(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { "&<>\"'".unicodeScalars.contains($0) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

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
