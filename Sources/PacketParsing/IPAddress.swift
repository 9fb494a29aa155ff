/// An IPv4 or IPv6 address held in two words, so that it is hashed and copied without allocation.
///
/// An IPv4 address lives in the low 32 bits of `low`; `high` is zero.
public struct IPAddress: Hashable, Sendable, Comparable {
    /// Which IP version the address belongs to.
    public enum Family: UInt8, Sendable, Hashable {
        case v4 = 4
        case v6 = 6
    }

    public let family: Family
    public let high: UInt64
    public let low: UInt64

    
    public init(v4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    
    public init(v6High high: UInt64, low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }

    /// The IPv4 address as a 32-bit number, or nil for IPv6.
    public var v4Value: UInt32? { family == .v4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// The address in network byte order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            let v = UInt32(truncatingIfNeeded: low)
            return [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        case .v6:
            var out: [UInt8] = []
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((high >> UInt64(shift)) & 0xff)) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((low >> UInt64(shift)) & 0xff)) }
            return out
        }
    }

    /// Builds an address from 4 or 16 network-order bytes.
    public init?(bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        switch array.count {
        case 4:
            self.init(v4: array.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) })
        case 16:
            let hi = array[0..<8].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            let lo = array[8..<16].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            self.init(v6High: hi, low: lo)
        default:
            return nil
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.family != rhs.family { return lhs.family.rawValue < rhs.family.rawValue }
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        return lhs.low < rhs.low
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if it is one.
    public var unmappedV4: IPAddress? {
        guard family == .v6, high == 0, (low >> 32) == 0xffff else { return nil }
        return IPAddress(v4: UInt32(truncatingIfNeeded: low))
    }

    /// This address as an IPv4-mapped IPv6 address, or itself when it is IPv6 already.
    public var mappedV6: IPAddress {
        guard family == .v4 else { return self }
        return IPAddress(v6High: 0, low: 0xffff_0000_0000 | low)
    }

    /// Whether this is the unspecified address (`0.0.0.0` or `::`).
    public var isUnspecified: Bool { high == 0 && low == 0 }
}

extension IPAddress: CustomStringConvertible {
    /// Dotted quad for IPv4, RFC 5952 text for IPv6.
    public var description: String {
        switch family {
        case .v4:
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .v6:
            if let v4 = unmappedV4 { return "::ffff:\(v4)" }
            var groups: [UInt16] = []
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16((high >> UInt64(shift)) & 0xffff)) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16((low >> UInt64(shift)) & 0xffff)) }
            // The longest run of two or more zero groups collapses to "::" (first one on ties).
            var bestStart = -1, bestLength = 0, runStart = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    let length = i - runStart
                    if length > bestLength && length >= 2 { bestStart = runStart; bestLength = length }
                    runStart = -1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }
}

extension IPAddress {
    /// Parses dotted-quad IPv4 or textual IPv6 (with `::` and an embedded IPv4 tail); nil when malformed.
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        if text.contains(":") {
            guard let parsed = IPAddress.parseV6(text) else { return nil }
            self = parsed
        } else {
            guard let value = IPAddress.parseV4(text) else { return nil }
            self.init(v4: value)
        }
    }

    private static func parseV4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let octet = UInt32(part), octet <= 255 else {
                return nil
            }
            value = (value << 8) | octet
        }
        return value
    }

    private static func parseV6(_ text: String) -> IPAddress? {
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id is not part of the address
        var halves: [String] = [String(text)]
        if let gap = text.firstRange(of: "::") {
            let rest = text[gap.upperBound...]
            guard rest.firstRange(of: "::") == nil else { return nil }
            halves = [String(text[..<gap.lowerBound]), String(rest)]
        }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseV4(String(piece)) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                } else {
                    guard !piece.isEmpty, piece.count <= 4, let g = UInt16(piece, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all: [UInt16]
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard head.count == 8 else { return nil }
            all = head
        }
        let hi = all[0..<4].reduce(UInt64(0)) { ($0 << 16) | UInt64($1) }
        let lo = all[4..<8].reduce(UInt64(0)) { ($0 << 16) | UInt64($1) }
        return IPAddress(v6High: hi, low: lo)
    }
}
