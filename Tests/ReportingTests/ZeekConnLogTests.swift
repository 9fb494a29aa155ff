import Flows
import Foundation
import PacketParsing
import Reporting
import Testing
import TestSupport

@Suite struct ZeekConnLogTests {
    /// Zeek 6's conn.log columns without optional scripts, as `#fields` lists them.
    static let zeekFields = [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration", "orig_bytes",
        "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes",
        "resp_pkts", "resp_ip_bytes", "tunnel_parents",
    ]

    static func row(direction: FlowDirection = .outbound) -> FlowRow {
        var r = FlowRow(
            uid: "CAbCdEf12345", start: 1_796_447_060_394_461_123, end: 1_796_447_060_490_897_000, proto: "tcp",
            ipProtocol: 6, ipVersion: 4, localAddress: "10.0.0.5", localPort: 48_784, remoteAddress: "198.18.0.9",
            remotePort: 443, direction: direction, scope: .internet, bytesOut: 659, bytesIn: 234_534, packetsOut: 11,
            packetsIn: 12, connState: "SF", history: "ShADadfF", communityID: "1:abc=")
        r.hostname = "models.example"
        r.nameSource = "sni"
        var p = FlowRow.Process(pid: 4242)
        p.exe = "/opt/tabs\there/llama-server"
        p.comm = "-"
        p.user = ""
        p.role = "model-runtime"
        r.process = p
        r.verdict = .alert
        r.rule = "model-runtime/egress"
        return r
    }

    @Test func theColumnsAreZeeksInZeeksOrderThenOurs() {
        let names = ZeekConnLog.fields.map(\.name)
        #expect(Array(names.prefix(21)) == Self.zeekFields)
        #expect(names.dropFirst(21).contains("exe") && names.dropFirst(21).contains("role"))
        let header = ZeekConnLog.header(openedAt: 0).split(separator: "\n")
        #expect(header.first == "#separator \\x09")
        #expect(header.contains("#fields\t" + names.joined(separator: "\t")))
        #expect(header.last?.hasPrefix("#types\ttime\tstring\taddr\tport\taddr\tport\tenum") == true)
    }

    @Test func anOutboundFlowIsOriginatedHereAndAnInboundOneThere() {
        let out = ZeekConnLog.tsvLine(Self.row()).dropLast().split(separator: "\t", omittingEmptySubsequences: false)
        #expect(out.count == ZeekConnLog.fields.count)
        #expect(out[0] == "1796447060.394461" && out[8] == "0.096435")
        #expect(out[2] == "10.0.0.5" && out[3] == "48784" && out[4] == "198.18.0.9" && out[5] == "443")
        #expect(out[7] == "ssl" && out[9] == "-" && out[10] == "-")
        #expect(out[12] == "T" && out[13] == "F")
        #expect(out[16] == "11" && out[17] == "659" && out[18] == "12" && out[19] == "234534")

        let inbound = ZeekConnLog.tsvLine(Self.row(direction: .inbound)).dropLast().split(separator: "\t", omittingEmptySubsequences: false)
        #expect(inbound[2] == "198.18.0.9" && inbound[3] == "443" && inbound[4] == "10.0.0.5" && inbound[5] == "48784")
        #expect(inbound[12] == "F" && inbound[13] == "T")
        #expect(inbound[16] == "12" && inbound[17] == "234534" && inbound[18] == "11" && inbound[19] == "659")
    }

    @Test func stringsAreEscapedAsZeekEscapesThem() {
        let fields = ZeekConnLog.tsvLine(Self.row()).dropLast().split(separator: "\t", omittingEmptySubsequences: false)
        let names = ZeekConnLog.fields.map(\.name)
        func field(_ name: String) -> Substring { fields[names.firstIndex(of: name)!] }
        #expect(field("exe") == "/opt/tabs\\x09here/llama-server")
        #expect(field("comm") == "\\x2d")  // a lone "-" would read as unset
        #expect(field("user") == "(empty)")
        #expect(field("pid") == "4242")
        #expect(field("sha256") == "-")
    }

    @Test func zeekJSONLeavesUnsetFieldsOut() throws {
        let line = ZeekConnLog.jsonLine(Self.row())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["orig_bytes"] == nil && object["sha256"] == nil)
        #expect((object["ts"] as? Double).map { abs($0 - 1_796_447_060.394461) < 1e-6 } == true)
        #expect(object["id.orig_h"] as? String == "10.0.0.5" && object["id.resp_p"] as? Int == 443)
        #expect(object["local_orig"] as? Bool == true && object["exe"] as? String == "/opt/tabs\there/llama-server")
        #expect(line.hasPrefix("{\"ts\":1796447060.394461,\"uid\":"))
    }

    /// A conn.log reader from PyPI (parsezeeklogs, installed by scripts/setup.sh) reads the TSV and
    /// the JSON back to the same values.
    @Test func aConnLogReaderReadsBothLayouts() throws {
        guard (try? TestProcess.run(["python3", "-c", "import parsezeeklogs"]))?.status == 0 else {
            print("skipped: the conn.log reader parsezeeklogs is not installed (scripts/setup.sh installs it)")
            return
        }
        let directory = try ScratchDirectory.make("zeek")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var renderer = FlowRenderer(format: .zeek)
        renderer.openedAt = 1_796_447_000_000_000_000
        var other = Self.row(direction: .inbound)
        other.uid = "CZz9"
        other.process = nil
        other.unattributedReason = "no-socket"
        let rows = [Self.row(), other]
        try (renderer.render(rows)).write(toFile: directory + "/conn.log", atomically: true, encoding: .utf8)
        renderer.format = .zeekJSON
        try (renderer.render(rows)).write(toFile: directory + "/conn.json", atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from parsezeeklogs import read_zeek
            for path in sys.argv[1:]:
                print(json.dumps([r for r in read_zeek(path)], default=str))
            """
        let outcome = try TestProcess.run(["python3", "-c", script, directory + "/conn.log", directory + "/conn.json"])
        #expect(outcome.status == 0, "\(outcome.error)")
        let documents = outcome.output.split(separator: "\n")
        try #require(documents.count == 2)
        for document in documents {
            let records = try #require(try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [[String: Any]])
            try #require(records.count == 2)
            let first = records[0]
            #expect(first["uid"] as? String == "CAbCdEf12345")
            #expect(first["id.orig_h"] as? String == "10.0.0.5")
            #expect(first["id.resp_p"] as? Int == 443)
            #expect(first["orig_ip_bytes"] as? Int == 659 && first["resp_ip_bytes"] as? Int == 234_534)
            #expect(first["local_orig"] as? Bool == true)
            #expect(first["exe"] as? String == "/opt/tabs\there/llama-server")
            #expect(first["role"] as? String == "model-runtime")
            #expect(first["pid"] as? Int == 4242)
            #expect((first["ts"] as? Double).map { abs($0 - 1_796_447_060.394461) < 1e-6 } == true)
            #expect(records[1]["id.orig_h"] as? String == "198.18.0.9")
            #expect(records[1]["unattributed_reason"] as? String == "no-socket")
            #expect(records[1]["exe"] == nil || records[1]["exe"] is NSNull)
        }
    }
}
