public import Flows
public import Names
public import PacketParsing

/// The packet path: decode a frame in place and count it into the flow table.
///
/// Owned by the capture thread. Nothing here allocates per packet, awaits or locks.
public struct FlowPipeline: Sendable {
    public var table: FlowTable
    public var counters = PipelineCounters()
    /// Names destinations from observed DNS, SNI and Host; nil when name extraction is off.
    public var names: NameTracker?
    /// Whether naming is on. Asked rather than `names != nil`, which copied the optional tracker (a
    /// retain and release of each of its tables): on the packet path, for every packet.
    private let naming: Bool
    private var decoder: PacketDecoder?
    /// Where payloads go for content inspection; nil (the default) when it is off.
    public let contentTap: ContentTap?

    public init(table: FlowTable, names: NameTracker? = NameTracker(), contentTap: ContentTap? = nil) {
        self.table = table
        self.names = names
        self.contentTap = contentTap
        naming = names != nil
    }

    /// Decodes one frame and counts it into its flow; a frame that does not decode is counted and skipped.
    
    public mutating func process(_ frame: UnsafeRawBufferPointer, wireLength: Int, timestamp: Int64, linkType: LinkType) {
        process(frame, wireLength: wireLength, timestamp: timestamp, decoder: decoder(for: linkType))
    }

    /// Decodes one frame with `decoder` and counts it: for a caller whose frames all have one link
    /// type (a file), which then need not compare link types for every packet.
    public mutating func process(_ frame: UnsafeRawBufferPointer, wireLength: Int, timestamp: Int64, decoder: PacketDecoder) {
        counters.frames += 1
        do {
            var packet = try decoder.decode(frame, wireLength: wireLength)
            packet.timestamp = timestamp
            let started = table.counters.flowsStarted
            // A copy of a packet already counted (another interface, or after address translation)
            // counts nowhere: not in a flow, not in the totals, not twice for names.
            guard table.ingest(packet) else {
                counters.copies += 1
                return
            }
            counters.ipPackets += 1
            counters.ipBytes += Int64(packet.ipLength)
            if naming {
                // Only DNS needs the owner on the packet path: the answer is credited to the asker.
                let isDNS = packet.sourcePort == 53 || packet.destinationPort == 53 || packet.sourcePort == 5353
                    || packet.destinationPort == 5353
                let owner = isDNS ? table.owner(of: FlowKey.of(packet).key) : nil
                names?.observe(packet, frame: frame, process: owner, startsFlow: table.counters.flowsStarted != started)
            }
            if let contentTap, packet.payloadLength > 0,
               packet.ipProtocol == IPProtocolNumber.tcp || packet.ipProtocol == IPProtocolNumber.udp {
                let key = FlowKey.of(packet).key
                let sequence = packet.ipProtocol == IPProtocolNumber.tcp ? TCPSequence.of(packet, in: frame) : nil
                contentTap.push(packet, key: key, frame: frame, sequence: sequence, owner: table.owner(of: key))
            }
        } catch {
            counters.count(error)
        }
    }

    /// Records what attribution found for a flow (called on the capture thread); false when the flow
    /// has ended already.
    @discardableResult
    public mutating func noteOwner(_ owner: OwnerAnswer, of key: FlowKey) -> Bool {
        if let process = owner.process { names?.assignAsker(process, ofFlow: key) }
        return table.setOwner(owner, of: key)
    }

    /// Gives the flows that just started the name their destination has now (a DNS answer seen
    /// before the first packet), so that policy can judge them at once.
    public mutating func nameStartedFlows() {
        guard naming else { return }
        for index in table.started.indices {
            apply(names?.name(for: table.started[index], process: nil), to: &table.started[index])
        }
    }

    /// Gives the flows about to be handed out (ended and updated) their names; forgets the ended ones.
    public mutating func nameFlows() {
        guard naming else { return }
        for index in table.updated.indices {
            apply(names?.name(for: table.updated[index], process: table.updated[index].ownerProcess), to: &table.updated[index])
        }
        for index in table.ended.indices {
            apply(names?.name(for: table.ended[index], process: table.ended[index].ownerProcess), to: &table.ended[index])
            names?.forget(flow: table.ended[index].key)
        }
    }

    private func apply(_ lookup: NameLookup?, to record: inout FlowRecord) {
        guard let lookup else { return }
        record.name = lookup.name
        record.nameSource = lookup.source.rawValue
        record.encryptedClientHello = lookup.encryptedClientHello
    }

    
    mutating func decoder(for linkType: LinkType) -> PacketDecoder {
        if let decoder, decoder.linkType == linkType { return decoder }
        let made = PacketDecoder(linkType: linkType)
        decoder = made
        return made
    }
}
