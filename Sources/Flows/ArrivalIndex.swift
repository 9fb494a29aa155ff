import PacketParsing

/// The packets that came in lately, by fingerprint, to recognise a routed packet leaving on
/// another interface after address translation (a container's packet masqueraded on its way out).
///
/// A forwarded packet leaves with its hop limit one lower than it came in, and address translation
/// rewrites addresses, ports and checksums but not the fields of its fingerprint. A program here
/// relaying the same bytes sends a packet of its own, with a fresh hop limit: not a match. Slots are
/// direct-mapped and overwritten: a miss only means the copy is counted as a flow of its own.
struct ArrivalIndex: Sendable {
    private struct Arrival: Sendable {
        var fingerprint: UInt64 = 0
        var time: Int64 = 0
        var interface: Int32 = 0
        /// The flow the packet was counted in.
        var key: FlowKey?
    }

    /// How long after coming in a packet may leave and still be recognised.
    static let window: Int64 = 50_000_000
    private static let size = 4096
    // Allocated at the first incoming packet that has a fingerprint: replays never pay for it.
    private var slots: [Arrival] = []

    /// Remembers an incoming packet as it will look when forwarded (one hop later).
    mutating func note(_ p: PacketSummary, key: FlowKey) {
        guard p.hopLimit > 1 else { return }
        if slots.isEmpty { slots = [Arrival](repeating: Arrival(), count: ArrivalIndex.size) }
        let fingerprint = ArrivalIndex.mix(p.copyFingerprint, hopLimit: p.hopLimit - 1)
        slots[Int(truncatingIfNeeded: fingerprint) & (ArrivalIndex.size - 1)] = Arrival(
            fingerprint: fingerprint, time: p.timestamp, interface: p.interfaceIndex, key: key)
    }

    /// The flow of the packet whose forwarded copy this outgoing packet is, if it came in on another
    /// interface a moment ago.
    func forwardedCopy(of p: PacketSummary) -> FlowKey? {
        guard !slots.isEmpty else { return nil }
        let fingerprint = ArrivalIndex.mix(p.copyFingerprint, hopLimit: p.hopLimit)
        let arrival = slots[Int(truncatingIfNeeded: fingerprint) & (ArrivalIndex.size - 1)]
        guard arrival.fingerprint == fingerprint, arrival.interface != p.interfaceIndex,
              p.timestamp >= arrival.time, p.timestamp - arrival.time <= ArrivalIndex.window
        else { return nil }
        return arrival.key
    }

    private static func mix(_ fingerprint: UInt64, hopLimit: UInt8) -> UInt64 {
        var h = (fingerprint ^ UInt64(hopLimit)) &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 31
        return h | 1
    }
}
