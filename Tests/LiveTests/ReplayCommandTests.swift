import Capture
import Foundation
import PacketParsing
import Testing
import TestSupport

/// The contract's keys (ARCHITECTURE.md, "The contract every client relies on").
let contractKeys = [
    "uid", "start", "end", "proto", "ip_version", "local_addr", "local_port", "remote_addr", "remote_port",
    "direction", "scope", "bytes_out", "bytes_in", "packets_out", "packets_in", "conn_state", "hostname",
    "name_source", "process", "unattributed_reason", "verdict", "rule",
]

/// `telltale replay` as a user runs it, on a fixture the test writes.
@Suite(.enabled(if: BuiltExecutable.path("telltale") != nil, "the telltale executable is not built next to the tests"))
struct ReplayCommandTests {
    static func fixture(_ directory: String) throws -> String {
        let out = FrameBuilder.IPHeader.v4(from: "10.0.0.1", to: "198.18.0.2"), back = out.reversed
        let frames = [
            FrameBuilder.frame(ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 443, flags: .syn)),
            FrameBuilder.frame(ip: back, transport: .tcp(sourcePort: 443, destinationPort: 40000, flags: .synAck)),
            FrameBuilder.frame(ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 443, flags: .finAck)),
            FrameBuilder.frame(ip: back, transport: .tcp(sourcePort: 443, destinationPort: 40000, flags: .finAck)),
            FrameBuilder.frame(ip: out, transport: .udp(sourcePort: 5000, destinationPort: 53, payload: Array(repeating: 1, count: 20))),
            FrameBuilder.frame(ip: .v6(from: "fd00::1", to: "2001:db8::2"), transport: .echo(identifier: 3)),
        ]
        let path = directory + "/fixture.pcapng"
        try CaptureFixture.write(frames: frames, to: path, linkType: .ethernet, format: .pcapng)
        return path
    }

    static func replay(_ format: String, _ extra: [String] = []) throws -> TestProcess.Outcome {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = try fixture(directory)
        let binary = try #require(BuiltExecutable.path("telltale"))
        return try TestProcess.run([binary, "replay", "--format", format, "--local-net", "10.0.0.0/8", path] + extra)
    }

    static func checkContract(_ object: [String: Any]) {
        for key in contractKeys { #expect(object.keys.contains(key), "missing \(key)") }
    }

    @Test func ndjsonIsOneContractObjectPerFlow() throws {
        let result = try Self.replay("ndjson")
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 3)
        var protos: Set<String> = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            Self.checkContract(object)
            protos.insert(object["proto"] as? String ?? "?")
            if object["proto"] as? String == "tcp" {
                #expect(object["conn_state"] as? String == "SF")
                #expect(object["direction"] as? String == "outbound")
                #expect(object["local_addr"] as? String == "10.0.0.1")
                #expect(object["remote_port"] as? Int == 443)
                #expect(object["bytes_out"] as? Int == 80 && object["packets_in"] as? Int == 2)
                #expect(object["scope"] as? String == "internet")
            }
        }
        #expect(protos == ["tcp", "udp", "icmpv6"])
        #expect(result.error.contains("3 flows"))
    }

    @Test func jsonIsOneArrayOfContractObjects() throws {
        let result = try Self.replay("json")
        #expect(result.status == 0, "\(result.error)")
        let array = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(array.count == 3)
        for object in array { Self.checkContract(object) }
    }

    @Test func csvHasAHeaderWithTheContractColumnsAndOneLinePerFlow() throws {
        let result = try Self.replay("csv")
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 4)
        let header = lines.first.map { $0.split(separator: ",").map(String.init) } ?? []
        // `process` is an object in JSON; CSV flattens it into pid, exe, cmdline, user and role.
        for key in contractKeys where key != "process" { #expect(header.contains(key), "missing \(key)") }
        #expect(header.contains("pid"))
        for line in lines.dropFirst() { #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == header.count) }
    }

    @Test func theTableHasAHeaderAndOneLinePerFlow() throws {
        let result = try Self.replay("table")
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.first?.contains("PROTO") == true)
        #expect(result.output.contains("198.18.0.2:443"))
    }

    @Test func aMissingFileExitsWithOneAndSaysWhy() throws {
        let binary = try #require(BuiltExecutable.path("telltale"))
        let result = try TestProcess.run([binary, "replay", "--format", "ndjson", "/nonexistent/x.pcap"])
        #expect(result.status == 1)
        #expect(result.error.contains("/nonexistent/x.pcap"))
        #expect(result.output.isEmpty)
    }
}
