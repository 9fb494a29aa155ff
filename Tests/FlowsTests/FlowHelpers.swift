import Flows
import PacketParsing
import TestSupport

/// Feeds built frames to a flow table, as the capture path does.
struct FlowFeeder {
    var table: FlowTable
    var clock: Int64 = 1_700_000_000_000_000_000
    let link: FrameBuilder.Link

    init(link: FrameBuilder.Link = .ethernet(), table: FlowTable = FlowTable(uidSeed: 1)) {
        self.link = link
        self.table = table
    }

    /// Decodes `frame` and ingests it `step` nanoseconds after the previous one.
    @discardableResult
    mutating func feed(_ frame: [UInt8], step: Int64 = 1_000_000) throws(DecodeError) -> PacketSummary {
        clock += step
        let decoder = PacketDecoder(linkType: link.linkType)
        let result: Result<PacketSummary, DecodeError> = frame.withUnsafeBytes { bytes in
            do throws(DecodeError) { return .success(try decoder.decode(bytes, wireLength: frame.count)) } catch { return .failure(error) }
        }
        var packet = try result.get()
        packet.timestamp = clock
        table.ingest(packet)
        return packet
    }

    mutating func send(_ ip: FrameBuilder.IPHeader, _ transport: FrameBuilder.Transport, step: Int64 = 1_000_000) throws(DecodeError) {
        try feed(FrameBuilder.frame(link: link, ip: ip, transport: transport), step: step)
    }

    /// Every flow, ended and open, after ending them all.
    mutating func finish() -> [FlowRecord] {
        table.endAll()
        let all = table.ended
        table.ended.removeAll()
        return all
    }
}

let client: IPAddress = "10.0.0.5"
let server: IPAddress = "198.18.3.4"
let toServer = FrameBuilder.IPHeader.v4(from: client, to: server)
let toClient = toServer.reversed
