/// Byte-level helpers shared by the parsers in this module.
enum ASCII {
    /// The value of a hexadecimal digit, either case.
    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    /// The lowercase hexadecimal digit for a value below 16.
    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? 0x30 + v : 0x61 + (v & 0xF) - 10
    }

    /// Text without leading and trailing spaces and tabs.
    static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
