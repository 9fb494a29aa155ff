import Flows
import Foundation
import PacketParsing
import Reporting
import Testing
import TestSupport

/// The contract's keys (ARCHITECTURE.md, "The contract every client relies on").
let contractKeys = [
    "uid", "start", "end", "proto", "ip_version", "local_addr", "local_port", "remote_addr", "remote_port",
    "direction", "scope", "bytes_out", "bytes_in", "packets_out", "packets_in", "conn_state", "hostname",
    "name_source", "process", "unattributed_reason", "verdict", "rule",
]
let processKeys = ["pid", "exe", "sha256", "cmdline", "comm", "uid", "user", "ppid", "parent_exe", "unit", "container", "role"]

func flow(_ frames: [(FrameBuilder.IPHeader, FrameBuilder.Transport)]) throws -> FlowRecord {
    var table = FlowTable(uidSeed: 5)
    var time: Int64 = 1_700_000_000_000_000_000
    for (ip, transport) in frames {
        let frame = FrameBuilder.frame(link: .raw, ip: ip, transport: transport)
        var packet = try frame.withUnsafeBytes { bytes throws(DecodeError) in
            try PacketDecoder(linkType: .raw).decode(bytes, wireLength: frame.count)
        }
        time += 250_000_000
        packet.timestamp = time
        table.ingest(packet)
    }
    table.endAll()
    return try #require(table.ended.first)
}

@Suite struct FlowRowTests {
    let here: IPAddress = "192.168.1.20"
    let there: IPAddress = "198.18.9.9"

    @Test func anInboundFlowIsTurnedToFaceThisMachine() throws {
        let r = try flow([
            (.v4(from: there, to: here), .tcp(sourcePort: 50000, destinationPort: 22, flags: .syn)),
            (.v4(from: here, to: there), .tcp(sourcePort: 22, destinationPort: 50000, flags: .synAck, payload: [1, 2])),
        ])
        let row = FlowRow(r, local: LocalNetwork(addresses: [here]))
        #expect(row.direction == .inbound)
        #expect(row.localAddress == "192.168.1.20" && row.localPort == 22)
        #expect(row.remoteAddress == "198.18.9.9" && row.remotePort == 50000)
        #expect(row.bytesOut == 42 && row.packetsOut == 1)
        #expect(row.bytesIn == 40 && row.packetsIn == 1)
        #expect(row.scope == .internet)
        #expect(row.proto == "tcp" && row.ipVersion == 4)
        #expect(row.uid == r.uidText)
        #expect(row.end - row.start == 250_000_000)
    }

    @Test func anICMPRowCarriesTypeCodeAndIdentifier() throws {
        let r = try flow([(.v6(from: "fd00::1", to: "fd00::2"), .echo(identifier: 4242))])
        let row = FlowRow(r, local: LocalNetwork(addresses: ["fd00::1"]))
        #expect(row.proto == "icmpv6")
        #expect(row.localPort == 128 && row.remotePort == 0)
        #expect(row.icmpIdentifier == 4242)
        #expect(row.scope == .lan)
    }

    @Test(arguments: [(UInt8(6), "tcp"), (17, "udp"), (1, "icmp"), (58, "icmpv6"), (132, "sctp"), (47, "ip-47"), (0, "ip-0")])
    func protocolsAreNamedAsTheContractSays(_ number: UInt8, _ name: String) {
        #expect(FlowRow.protocolName(number) == name)
    }

    @Test func everyJSONRowHasEveryContractKey() throws {
        let r = try flow([(.v4(from: here, to: there), .udp(sourcePort: 1, destinationPort: 2))])
        var row = FlowRow(r, local: LocalNetwork(addresses: [here]))
        var withProcess = row
        var process = FlowRow.Process(pid: 42)
        process.exe = "/usr/bin/curl"
        process.cmdline = "curl\u{1b}]0;x"
        withProcess.process = process
        row.hostname = "bad\"name\n"
        for r in [row, withProcess] {
            var w = JSONWriter()
            r.writeJSON(to: &w)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(w.text.utf8)) as? [String: Any])
            for key in contractKeys { #expect(object.keys.contains(key), "missing \(key)") }
            #expect(Timestamp.parse(try #require(object["start"] as? String)) == r.start / 1000 * 1000)
            if let p = object["process"] as? [String: Any] {
                for key in processKeys { #expect(p.keys.contains(key), "missing process.\(key)") }
                #expect(p["cmdline"] as? String == "curl\u{1b}]0;x")
            } else {
                #expect(object["process"] is NSNull)
                #expect(object["hostname"] as? String == "bad\"name\n")
            }
        }
    }

    @Test(arguments: OutputFormat.allCases)
    func everyFormatRendersEveryRow(_ format: OutputFormat) throws {
        var rows: [FlowRow] = []
        for port in UInt16(1)...3 {
            let r = try flow([(.v4(from: here, to: there), .udp(sourcePort: port, destinationPort: 53))])
            var row = FlowRow(r, local: LocalNetwork(addresses: [here]))
            row.hostname = "host,\u{1b}[1m\(port)"
            rows.append(row)
        }
        let text = FlowRenderer(format: format).render(rows)
        #expect(!text.contains("\u{1b}"))
        switch format {
        case .json:
            let array = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
            #expect(array.count == 3)
        case .ndjson:
            let lines = text.split(separator: "\n")
            #expect(lines.count == 3)
            for line in lines { #expect((try JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]) }
        case .csv:
            let lines = text.split(separator: "\n")
            #expect(lines.count == 4)
            #expect(lines.first == Substring(FlowRow.csvHeader.joined(separator: ",")))
            #expect(lines[1].contains("\"host,\\x1b[1m1\""))
        case .table:
            #expect(text.split(separator: "\n").count == 4)
            #expect(text.contains("udp"))
        case .zeek:
            let lines = text.split(separator: "\n")
            #expect(lines.filter { !$0.hasPrefix("#") }.count == 3)
            #expect(lines.last?.hasPrefix("#close\t") == true)
            #expect(text.contains("host,\\x1b[1m1"))
        case .zeekJSON:
            let lines = text.split(separator: "\n")
            #expect(lines.count == 3)
            for line in lines { #expect((try JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]) }
        }
        #expect(FlowRenderer(format: .json).render([]) == "[\n]\n")
    }
}
