/// An address prefix such as `10.0.0.0/8` or `fd00::/8`.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        let maxLength = address.family == .v4 ? 32 : 128
        guard prefixLength >= 0, prefixLength <= maxLength else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/LENGTH`, or a bare address as a host prefix.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        let maxLength = address.family == .v4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), parsed >= 0, parsed <= maxLength else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length)
    }

    /// Whether `other` lies inside this prefix (an IPv4 address also matches its IPv4-mapped form).
    public func contains(_ other: IPAddress) -> Bool {
        let candidate = other.unmappedV4 ?? other
        guard candidate.family == address.family else { return false }
        switch address.family {
        case .v4:
            guard prefixLength > 0 else { return true }
            let mask = UInt32.max << UInt32(32 - prefixLength)
            return UInt32(truncatingIfNeeded: candidate.low) & mask == UInt32(truncatingIfNeeded: address.low) & mask
        case .v6:
            if prefixLength <= 64 {
                let mask: UInt64 = prefixLength == 0 ? 0 : UInt64.max << UInt64(64 - prefixLength)
                return candidate.high & mask == address.high & mask
            }
            let mask: UInt64 = UInt64.max << UInt64(128 - prefixLength)
            return candidate.high == address.high && candidate.low & mask == address.low & mask
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
