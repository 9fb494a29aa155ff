public import PacketParsing

/// The direction-free identity of a flow: protocol and the two endpoints in canonical order.
///
/// For ICMP the "ports" are the query identifier and `variant` holds the request type, so an echo
/// request and its reply share a key while two pings with different identifiers do not.
public struct FlowKey: Hashable, Sendable {
    /// Hashes four words instead of every field one by one: this runs once per packet.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(lowHigh ^ (highHigh &* 0x9e37_79b9_7f4a_7c15))
        hasher.combine(lowLow)
        hasher.combine(highLow)
        hasher.combine(
            UInt64(ipProtocol) << 56 | UInt64(variant) << 48 | UInt64(lowPort) << 32 | UInt64(highPort) << 16
                | UInt64(vlan) ^ UInt64(families) << 8)
    }

    // The addresses are kept as their words and one byte for both families: with two `IPAddress`
    // values (a family byte each, padded to 8) the key took 64 bytes rather than 48, in every open
    // flow's record and every comparison.
    let lowHigh: UInt64
    let lowLow: UInt64
    let highHigh: UInt64
    let highLow: UInt64
    public let lowPort: UInt16
    public let highPort: UInt16
    public let vlan: UInt16
    public let ipProtocol: UInt8
    public let variant: UInt8
    /// The low address's family in the low four bits, the high address's in the high four.
    let families: UInt8

    public var lowAddress: IPAddress { FlowKey.address(families & 0x0f, lowHigh, lowLow) }
    public var highAddress: IPAddress { FlowKey.address(families >> 4, highHigh, highLow) }

    @inline(__always)
    private static func address(_ family: UInt8, _ high: UInt64, _ low: UInt64) -> IPAddress {
        family == IPAddress.Family.v4.rawValue ? IPAddress(v4: UInt32(truncatingIfNeeded: low)) : IPAddress(v6High: high, low: low)
    }

    /// The key of a decoded packet, and whether the packet travels from the low endpoint to the high one.
    @inline(__always)
    public static func of(_ p: PacketSummary) -> (key: FlowKey, fromLow: Bool) {
        var sourcePort = p.sourcePort
        var destinationPort = p.destinationPort
        var variant: UInt8 = 0
        if p.ipProtocol == IPProtocolNumber.icmp || p.ipProtocol == IPProtocolNumber.icmpv6 {
            let v6 = p.ipProtocol == IPProtocolNumber.icmpv6
            variant = ICMPKind.requestType(of: p.icmpType, v6: v6)
            sourcePort = p.icmpIdentifier
            destinationPort = p.icmpIdentifier
        }
        let fromLow = p.source < p.destination || (p.source == p.destination && sourcePort <= destinationPort)
        if fromLow {
            return (FlowKey(p.ipProtocol, variant, p.source, p.destination, sourcePort, destinationPort, p.vlan), true)
        }
        return (FlowKey(p.ipProtocol, variant, p.destination, p.source, destinationPort, sourcePort, p.vlan), false)
    }

    
    init(_ proto: UInt8, _ variant: UInt8, _ low: IPAddress, _ high: IPAddress, _ lowPort: UInt16, _ highPort: UInt16, _ vlan: UInt16) {
        self.ipProtocol = proto
        self.variant = variant
        self.lowHigh = low.high
        self.lowLow = low.low
        self.highHigh = high.high
        self.highLow = high.low
        self.families = low.family.rawValue | high.family.rawValue << 4
        self.lowPort = lowPort
        self.highPort = highPort
        self.vlan = vlan
    }
}
