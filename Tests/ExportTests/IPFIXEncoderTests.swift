import Export
import Posix
import Flows
import PacketParsing
import Reporting
import Testing

/// Reads IPFIX messages back (RFC 7011): what a collector sees.
struct IPFIXReader {
    struct Field { var id: UInt16; var length: UInt16; var enterprise: UInt32? }
    var templates: [UInt16: [Field]] = [:]
    var records: [[String: [UInt8]]] = []
    var sequences: [UInt32] = []

    static func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) << 16 | UInt32(u16(b, i + 2)) }
    static func integer(_ b: [UInt8]) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

    mutating func read(_ m: [UInt8]) throws {
        try #require(Self.u16(m, 0) == 10, "version")
        try #require(Self.u16(m, 2) == m.count, "length")
        sequences.append(Self.u32(m, 8))
        var i = 16
        while i < m.count {
            let setID = UInt16(Self.u16(m, i)), setLength = Self.u16(m, i + 2)
            try #require(setLength >= 4 && i + setLength <= m.count)
            var j = i + 4
            if setID == 2 {
                while j < i + setLength {
                    let id = UInt16(Self.u16(m, j)), count = Self.u16(m, j + 2)
                    j += 4
                    var fields: [Field] = []
                    for _ in 0..<count {
                        var f = Field(id: UInt16(Self.u16(m, j)), length: UInt16(Self.u16(m, j + 2)))
                        j += 4
                        if f.id & 0x8000 != 0 { f.id &= 0x7fff; f.enterprise = Self.u32(m, j); j += 4 }
                        fields.append(f)
                    }
                    templates[id] = fields
                }
            } else {
                let fields = try #require(templates[setID], "data before its template")
                while j < i + setLength {
                    var record: [String: [UInt8]] = [:]
                    for f in fields {
                        var length = Int(f.length)
                        if f.length == 65535 {
                            length = Int(m[j]); j += 1
                            if length == 255 { length = Self.u16(m, j); j += 2 }
                        }
                        record[(f.enterprise.map { "\($0)/" } ?? "") + String(f.id)] = Array(m[j..<j + length])
                        j += length
                    }
                    records.append(record)
                }
            }
            i += setLength
        }
    }
}

@Suite struct IPFIXEncoderTests {
    static func row(_ uid: String, exe: String? = "/usr/bin/llama-server", v6: Bool = false, bytesIn: Int64 = 900) -> FlowRow {
        var r = FlowRow(
            uid: uid, start: 1_796_447_060_394_000_000, end: 1_796_447_061_500_000_000, proto: "tcp", ipProtocol: 6,
            ipVersion: v6 ? 6 : 4, localAddress: v6 ? "fd00::5" : "10.0.0.5", localPort: 40_000,
            remoteAddress: v6 ? "2001:db8::9" : "198.18.0.9", remotePort: 443, direction: .outbound, scope: .internet,
            bytesOut: 1_234, bytesIn: bytesIn, packetsOut: 7, packetsIn: bytesIn > 0 ? 5 : 0, connState: "SF",
            history: "ShADadFf", communityID: "")
        if let exe {
            var p = FlowRow.Process(pid: 31_337)
            p.exe = exe
            p.role = "model-runtime"
            p.user = "alice"
            r.process = p
        }
        r.hostname = "models.example"
        return r
    }

    @Test func aFlowBecomesTwoOneWayRecordsWithOurElements() throws {
        var encoder = IPFIXEncoder(observerHostname: "ws-17")
        let messages = encoder.messages([Self.row("CAAA")], exportTime: 1_796_447_070, withTemplates: true)
        var reader = IPFIXReader()
        for m in messages { try reader.read(m) }
        try #require(reader.records.count == 2)
        let out = reader.records[0], back = reader.records[1]
        #expect(out["8"] == [10, 0, 0, 5] && out["12"] == [198, 18, 0, 9])
        #expect(IPFIXReader.integer(out["7"]!) == 40_000 && IPFIXReader.integer(out["11"]!) == 443)
        #expect(IPFIXReader.integer(out["1"]!) == 1_234 && IPFIXReader.integer(out["2"]!) == 7)
        #expect(IPFIXReader.integer(back["1"]!) == 900 && IPFIXReader.integer(back["2"]!) == 5)
        #expect(back["8"] == [198, 18, 0, 9] && IPFIXReader.integer(back["7"]!) == 443)
        #expect(IPFIXReader.integer(out["152"]!) == 1_796_447_060_394 && IPFIXReader.integer(out["153"]!) == 1_796_447_061_500)
        #expect(IPFIXReader.integer(out["4"]!) == 6 && IPFIXReader.integer(out["61"]!) == 1 && IPFIXReader.integer(back["61"]!) == 0)
        let pen = IPFIXEncoder.documentationEnterpriseNumber
        #expect(String(decoding: out["\(pen)/1"]!, as: UTF8.self) == "/usr/bin/llama-server")
        #expect(String(decoding: out["\(pen)/2"]!, as: UTF8.self) == "model-runtime")
        #expect(IPFIXReader.integer(out["\(pen)/3"]!) == 31_337)
        #expect(String(decoding: out["\(pen)/4"]!, as: UTF8.self) == "models.example")
        #expect(String(decoding: out["\(pen)/5"]!, as: UTF8.self) == "ws-17")
        #expect(String(decoding: out["\(pen)/6"]!, as: UTF8.self) == "CAAA")
        #expect(String(decoding: out["\(pen)/7"]!, as: UTF8.self) == "alice")
        #expect(encoder.sequence == 2)
    }

    @Test func manyFlowsSplitIntoMessagesThatFitAndCountRecordsInSequence() throws {
        var encoder = IPFIXEncoder(observationDomain: 7, enterpriseNumber: 4_242, observerHostname: "h")
        let long = "/opt/" + String(repeating: "é", count: 700)  // 1,405 bytes: cut to 1,024 at a character boundary
        var rows = (0..<60).map { Self.row("C\($0)", v6: $0 % 3 == 0) }
        rows.append(Self.row("Clong", exe: long, bytesIn: 0))
        rows.append(Self.row("Cnone", exe: nil))
        let messages = encoder.messages(rows, exportTime: 1, maximumSize: 1_400, withTemplates: true)
        #expect(messages.count > 1)
        var reader = IPFIXReader()
        var expectedSequence: UInt32 = 0
        for m in messages {
            #expect(m.count <= 1_400)
            #expect(IPFIXReader.u32(m, 12) == 7)
            let before = reader.records.count
            try reader.read(m)
            #expect(reader.sequences.last == expectedSequence)
            expectedSequence += UInt32(reader.records.count - before)
        }
        #expect(reader.records.count == 60 * 2 + 1 + 2)
        #expect(encoder.sequence == expectedSequence)
        #expect(reader.templates[256]?.contains { $0.enterprise == 4_242 } == true)
        #expect(reader.templates[257]?.first { $0.id == 27 }?.length == 16)
        let cut = try #require(reader.records.first { $0["4242/6"].map { String(decoding: $0, as: UTF8.self) } == "Clong" })
        let exe = String(decoding: cut["4242/1"]!, as: UTF8.self)
        #expect(cut["4242/1"]!.count <= 1_024 && exe.hasPrefix("/opt/é") && !exe.contains("\u{FFFD}"))
        let none = try #require(reader.records.first { $0["4242/6"].map { String(decoding: $0, as: UTF8.self) } == "Cnone" })
        #expect(none["4242/1"] == [] && IPFIXReader.integer(none["4242/3"]!) == 0)
    }

    @Test func icmpCarriesTypeAndCodeAsCollectorsExpect() throws {
        var r = Self.row("Cicmp")
        r.proto = "icmp"
        r.ipProtocol = 1
        r.localPort = 8  // echo request: the type
        r.remotePort = 0  // the code
        var encoder = IPFIXEncoder(observerHostname: "h")
        var reader = IPFIXReader()
        for m in encoder.messages([r], exportTime: 1, withTemplates: true) { try reader.read(m) }
        #expect(IPFIXReader.integer(reader.records[0]["11"]!) == 8 << 8)
        #expect(IPFIXReader.integer(reader.records[0]["7"]!) == 0)
    }

    @Test func addressesAreNumericAndMetricsAreServedLocallyOnly() throws {
        #expect(try SocketAddress.parse("127.0.0.1:4739") == .inet(host: "127.0.0.1", port: 4739))
        #expect(try SocketAddress.parse("[::1]:9477") == .inet(host: "::1", port: 9477))
        #expect(try SocketAddress.parse("unix:/run/telltale/metrics.sock") == .unix(path: "/run/telltale/metrics.sock"))
        #expect(throws: ExportError.self) { try SocketAddress.parse("collector.lan:4739") }
        #expect(throws: ExportError.self) { try SocketAddress.parse("127.0.0.1:0") }
        #expect(throws: ExportError.self) { try SocketAddress.parse("127.0.0.1") }
        #expect(throws: ExportError.self) { try MetricsServer(address: .inet(host: "192.0.2.1", port: 9477)) }
        #expect(throws: ExportError.self) { try MetricsTextfile(path: "/tmp/telltale.txt") }
    }
}
