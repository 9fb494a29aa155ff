public import Flows
public import PacketParsing

/// The packet path: decode a frame in place and count it into the flow table.
///
/// Owned by the capture thread. Nothing here allocates per packet, awaits or locks.
public struct FlowPipeline: Sendable {
    public var table: FlowTable
    public var counters = PipelineCounters()
    private var decoder: PacketDecoder?

    public init(table: FlowTable) {
        self.table = table
    }

    /// Decodes one frame and counts it into its flow; a frame that does not decode is counted and skipped.
    
    public mutating func process(_ frame: UnsafeRawBufferPointer, wireLength: Int, timestamp: Int64, linkType: LinkType) {
        counters.frames += 1
        let decoder = decoder(for: linkType)
        do {
            var packet = try decoder.decode(frame, wireLength: wireLength)
            packet.timestamp = timestamp
            counters.ipPackets += 1
            counters.ipBytes += Int64(packet.ipLength)
            table.ingest(packet)
        } catch {
            counters.count(error)
        }
    }

    
    mutating func decoder(for linkType: LinkType) -> PacketDecoder {
        if let decoder, decoder.linkType == linkType { return decoder }
        let made = PacketDecoder(linkType: linkType)
        decoder = made
        return made
    }
}
