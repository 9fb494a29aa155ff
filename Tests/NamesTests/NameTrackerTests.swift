import Flows
import Monitor
import NameParsing
import Names
import PacketParsing
import Testing
import TestSupport

/// Feeds generated frames through the real packet path and collects the named flows.
struct Feed {
    var pipeline = FlowPipeline(table: FlowTable(uidSeed: 1))
    var time: Int64 = 1_700_000_000_000_000_000

    mutating func send(_ ip: FrameBuilder.IPHeader, _ transport: FrameBuilder.Transport) {
        let frame = FrameBuilder.frame(ip: ip, transport: transport)
        time += 1_000_000
        let t = time
        frame.withUnsafeBytes { pipeline.process($0, wireLength: frame.count, timestamp: t, linkType: .ethernet) }
    }

    mutating func flows() -> [FlowRecord] {
        pipeline.table.endAll()
        pipeline.nameFlows()
        defer { pipeline.table.ended.removeAll() }
        return pipeline.table.ended
    }

    mutating func flow(to port: UInt16) -> FlowRecord? {
        flows().first { $0.responderPort == port }
    }
}

enum Lab {
    static let client: IPAddress = "10.0.0.2"
    static let resolver: IPAddress = "10.0.0.1"
    static let server: IPAddress = "198.18.5.5"
    static let up = FrameBuilder.IPHeader.v4(from: client, to: resolver)
    static let down = FrameBuilder.IPHeader.v4(from: resolver, to: client)
    static let toServer = FrameBuilder.IPHeader.v4(from: client, to: server)

    static func query(_ name: String, id: UInt16, type: UInt16 = 1) -> [UInt8] {
        var b = DNSBuilder(id: id, flags: 0x0100, questions: 1, answers: 0)
        b.question(name, type: type)
        return b.bytes
    }

    static func answer(_ name: String, id: UInt16, address: [UInt8], ttl: UInt32 = 60) -> [UInt8] {
        var b = DNSBuilder(id: id, flags: 0x8180, questions: 1, answers: 1)
        b.question(name, type: address.count == 4 ? 1 : 28)
        b.record(nil, type: address.count == 4 ? 1 : 28, ttl: ttl, data: address)
        return b.bytes
    }
}

@Suite struct NameTrackerPipelineTests {
    @Test func namesAFlowFromTheDNSAnswerBeforeIt() {
        var feed = Feed()
        feed.send(Lab.up, .udp(sourcePort: 40000, destinationPort: 53, payload: Lab.query("api.tracker.example", id: 77)))
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: Lab.answer("api.tracker.example", id: 77, address: [198, 18, 5, 5])))
        feed.send(Lab.toServer, .tcp(sourcePort: 50000, destinationPort: 8443, flags: .syn))
        let flow = feed.flow(to: 8443)
        #expect(flow?.hostname == "api.tracker.example")
        #expect(flow?.nameSource == "dns-global")
    }

    @Test func keepsTheNameAnAddressHadWhenTheFlowStarted() {
        var feed = Feed()
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: Lab.answer("first.example", id: 1, address: [198, 18, 5, 5])))
        feed.send(Lab.toServer, .tcp(sourcePort: 50000, destinationPort: 8443, flags: .syn))
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40001, payload: Lab.answer("second.example", id: 2, address: [198, 18, 5, 5])))
        #expect(feed.flow(to: 8443)?.hostname == "first.example")
    }

    @Test func readsSNIFromAClientHelloSplitOverThreeSegmentsWithARetransmission() throws {
        var feed = Feed()
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "split.example", padding: 2400))
        let parts = [Array(records[0..<900]), Array(records[900..<1800]), Array(records[1800...])]
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .syn, sequence: 999))
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: parts[0], sequence: 1000))
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: parts[0], sequence: 1000))
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: parts[1], sequence: 1900))
        #expect(feed.pipeline.names?.counters.clientHellos == 0)
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: parts[2], sequence: 2800))
        let found = feed.flow(to: 443)
        let flow = try #require(found)
        #expect(flow.hostname == "split.example")
        #expect(flow.nameSource == "sni")
        #expect(flow.encryptedClientHello == false)
        #expect(feed.pipeline.names?.sizes.streams == 0)
    }

    @Test func givesUpOnAClientHelloWithAGap() {
        var feed = Feed()
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "gap.example", padding: 2400))
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: Array(records[0..<900]), sequence: 1000))
        feed.send(Lab.toServer, .tcp(sourcePort: 50001, destinationPort: 443, flags: .pshAck, payload: Array(records[1800...]), sequence: 2800))
        #expect(feed.flow(to: 443)?.hostname == nil)
        #expect((feed.pipeline.names?.counters.reassemblyAbandoned ?? 0) >= 1)
    }

    @Test func reportsEncryptedClientHelloWithItsPublicName() {
        var feed = Feed()
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "cover.cdn.example", ech: true))
        feed.send(Lab.toServer, .tcp(sourcePort: 50002, destinationPort: 443, flags: .pshAck, payload: records))
        let flow = feed.flow(to: 443)
        #expect(flow?.hostname == "cover.cdn.example")
        #expect(flow?.nameSource == "sni")
        #expect(flow?.encryptedClientHello == true)
    }

    @Test func theFlowsOwnSNIWinsOverDNS() {
        var feed = Feed()
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: Lab.answer("shared.cdn.example", id: 5, address: [198, 18, 5, 5])))
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "real.example"))
        feed.send(Lab.toServer, .tcp(sourcePort: 50003, destinationPort: 443, flags: .syn))
        feed.send(Lab.toServer, .tcp(sourcePort: 50003, destinationPort: 443, flags: .pshAck, payload: records, sequence: 1001))
        #expect(feed.flow(to: 443)?.hostname == "real.example")
    }

    @Test(arguments: [QUICVectors.v1ClientInitial, QUICVectors.v2ClientInitial])
    func readsTheSNIOfAQUICInitialInAUDPDatagram(packet: [UInt8]) {
        var feed = Feed()
        feed.send(Lab.toServer, .udp(sourcePort: 50004, destinationPort: 443, payload: packet))
        let flow = feed.flow(to: 443)
        #expect(flow?.hostname == "example.com")
        #expect(flow?.nameSource == "quic-sni")
    }

    @Test func readsTheHTTPHostOfAPlainRequest() {
        var feed = Feed()
        feed.send(Lab.toServer, .tcp(sourcePort: 50005, destinationPort: 80, flags: .pshAck,
                                     payload: Array("GET /pixel.gif HTTP/1.1\r\nHost: pixel.example\r\nAccept: */*\r\n\r\n".utf8)))
        let flow = feed.flow(to: 80)
        #expect(flow?.hostname == "pixel.example")
        #expect(flow?.nameSource == "http-host")
    }

    @Test func readsDNSOverTCPSplitOverTwoSegments() {
        var feed = Feed()
        let answer = Lab.answer("tcp-dns.example", id: 9, address: [198, 18, 5, 5])
        let framed = [UInt8(answer.count >> 8), UInt8(answer.count & 0xff)] + answer
        feed.send(Lab.down, .tcp(sourcePort: 53, destinationPort: 40010, flags: .pshAck, payload: Array(framed[0..<10]), sequence: 5000))
        feed.send(Lab.down, .tcp(sourcePort: 53, destinationPort: 40010, flags: .pshAck, payload: Array(framed[10...]), sequence: 5010))
        feed.send(Lab.toServer, .tcp(sourcePort: 50006, destinationPort: 443, flags: .syn))
        #expect(feed.flow(to: 443)?.hostname == "tcp-dns.example")
    }

    @Test func survivesHostileDNSAndCountsIt() {
        var feed = Feed()
        var loop = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 0)
        loop.bytes += [0xc0, 12, 0, 1, 0, 1]
        var absurd = DNSBuilder(id: 2, flags: 0x8180, questions: 1, answers: 65_535)
        absurd.question("x.example", type: 1)
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: loop.bytes))
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: absurd.bytes))
        feed.send(Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: Array(Lab.answer("cut.example", id: 3, address: [1, 2, 3, 4]).dropLast(3))))
        #expect(feed.pipeline.names?.counters.dnsMalformed == 3)
        #expect(feed.pipeline.names?.sizes.addresses == 0)
    }

    @Test func namesNothingWhenExtractionIsOff() {
        var feed = Feed()
        feed.pipeline = FlowPipeline(table: FlowTable(uidSeed: 1), names: nil)
        feed.send(Lab.toServer, .tcp(sourcePort: 50005, destinationPort: 80, flags: .pshAck,
                                     payload: Array("GET / HTTP/1.1\r\nHost: off.example\r\n\r\n".utf8)))
        #expect(feed.flow(to: 80)?.hostname == nil)
    }
}

@Suite struct NameTrackerProcessTests {
    static let appA = ProcessKey(pid: 100, startTime: 1)
    static let appB = ProcessKey(pid: 200, startTime: 2)
    static let resolved = ProcessKey(pid: 50, startTime: 3)
    let t0: Int64 = 1_700_000_000_000_000_000

    func observe(_ tracker: inout NameTracker, _ ip: FrameBuilder.IPHeader, _ transport: FrameBuilder.Transport, process: ProcessKey?, at time: Int64) {
        let frame = FrameBuilder.frame(ip: ip, transport: transport)
        guard var packet = try? PacketDecoder(linkType: .ethernet).decode(frame.withUnsafeBytes { $0 }, wireLength: frame.count) else {
            Issue.record("the frame did not decode")
            return
        }
        packet.timestamp = time
        frame.withUnsafeBytes { tracker.observe(packet, frame: $0, process: process) }
    }

    @Test func twoProgramsResolvingDifferentNamesToOneAddressEachGetTheirOwn() {
        var tracker = NameTracker()
        let shared: [UInt8] = [198, 18, 8, 8]
        observe(&tracker, Lab.up, .udp(sourcePort: 41000, destinationPort: 53, payload: Lab.query("alpha.example", id: 10)), process: Self.appA, at: t0)
        observe(&tracker, Lab.up, .udp(sourcePort: 42000, destinationPort: 53, payload: Lab.query("beta.example", id: 10)), process: Self.appB, at: t0 + 1)
        // The answers carry no process: they are matched to the queries by client port and id.
        observe(&tracker, Lab.down, .udp(sourcePort: 53, destinationPort: 41000, payload: Lab.answer("alpha.example", id: 10, address: shared)), process: nil, at: t0 + 2)
        observe(&tracker, Lab.down, .udp(sourcePort: 53, destinationPort: 42000, payload: Lab.answer("beta.example", id: 10, address: shared)), process: nil, at: t0 + 3)
        let address: IPAddress = "198.18.8.8"
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 10)?.hostname == "alpha.example")
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 10)?.source == .dns)
        #expect(tracker.name(forRemote: address, process: Self.appB, at: t0 + 10)?.hostname == "beta.example")
        // A third program that asked nothing gets the machine-wide fallback: the latest answer.
        let other = tracker.name(forRemote: address, process: ProcessKey(pid: 300, startTime: 4), at: t0 + 10)
        #expect(other?.hostname == "beta.example")
        #expect(other?.source == .dnsGlobal)
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 10)?.ttl == 60)
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 10)?.learnedAt == t0 + 2)
    }

    @Test func theStubResolversUpstreamQueryIsNotCreditedToAnApp() {
        var tracker = NameTracker()
        let app = FrameBuilder.IPHeader.v4(from: "127.0.0.1", to: "127.0.0.53")
        let stub = FrameBuilder.IPHeader.v4(from: "127.0.0.53", to: "127.0.0.1")
        let upstream = FrameBuilder.IPHeader.v4(from: "10.0.0.2", to: "198.18.0.53")
        let upstreamReply = FrameBuilder.IPHeader.v4(from: "198.18.0.53", to: "10.0.0.2")
        // The app asks the stub on lo; the stub asks upstream; upstream answers; the stub answers the app.
        observe(&tracker, app, .udp(sourcePort: 43000, destinationPort: 53, payload: Lab.query("app.example", id: 1)), process: Self.appA, at: t0)
        observe(&tracker, upstream, .udp(sourcePort: 44000, destinationPort: 53, payload: Lab.query("app.example", id: 2)), process: Self.resolved, at: t0 + 1)
        observe(&tracker, upstreamReply, .udp(sourcePort: 53, destinationPort: 44000, payload: Lab.answer("app.example", id: 2, address: [198, 18, 9, 9])), process: Self.resolved, at: t0 + 2)
        observe(&tracker, stub, .udp(sourcePort: 53, destinationPort: 43000, payload: Lab.answer("app.example", id: 1, address: [198, 18, 9, 9])), process: Self.resolved, at: t0 + 3)
        #expect(tracker.resolvers.contains(Self.resolved))
        let address: IPAddress = "198.18.9.9"
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 5)?.source == .dns)
        #expect(tracker.name(forRemote: address, process: Self.appA, at: t0 + 5)?.hostname == "app.example")
        // For the resolver itself only the machine-wide map answers.
        #expect(tracker.name(forRemote: address, process: Self.resolved, at: t0 + 5)?.source == .dnsGlobal)
    }

    @Test func aDeclaredResolversAnswersGoOnlyToTheMachineWideMap() {
        var tracker = NameTracker()
        tracker.markResolver(Self.resolved)
        observe(&tracker, Lab.up, .udp(sourcePort: 44000, destinationPort: 53, payload: Lab.query("r.example", id: 3)), process: Self.resolved, at: t0)
        observe(&tracker, Lab.down, .udp(sourcePort: 53, destinationPort: 44000, payload: Lab.answer("r.example", id: 3, address: [198, 18, 9, 1])), process: Self.resolved, at: t0 + 1)
        #expect(tracker.name(forRemote: "198.18.9.1", process: Self.resolved, at: t0 + 2)?.source == .dnsGlobal)
        #expect(tracker.sizes.addresses == 1)
    }

    @Test func namesExpireAfterTheirTTLAndGrace() {
        var limits = NameTracker.Limits()
        limits.grace = 10 * 1_000_000_000
        var tracker = NameTracker(limits: limits)
        observe(&tracker, Lab.down, .udp(sourcePort: 53, destinationPort: 40000, payload: Lab.answer("short.example", id: 4, address: [198, 18, 9, 2], ttl: 5)), process: nil, at: t0)
        #expect(tracker.name(forRemote: "198.18.9.2", process: nil, at: t0 + 14_000_000_000)?.hostname == "short.example")
        #expect(tracker.name(forRemote: "198.18.9.2", process: nil, at: t0 + 16_000_000_000) == nil)
    }

    @Test func staysWithinItsCapsUnderAFloodOfAnswers() {
        var limits = NameTracker.Limits()
        limits.addressEntries = 1000
        limits.names = 500
        limits.pendingQueries = 100
        var tracker = NameTracker(limits: limits)
        for index in 0..<4000 {
            let address: [UInt8] = [198, 18, UInt8(index >> 8), UInt8(index & 0xff)]
            observe(&tracker, Lab.up, .udp(sourcePort: UInt16(10_000 + index), destinationPort: 53, payload: Lab.query("n\(index).example", id: 1)), process: Self.appA, at: t0 + Int64(index))
            observe(&tracker, Lab.down, .udp(sourcePort: 53, destinationPort: UInt16(20_000 + index), payload: Lab.answer("n\(index).example", id: 1, address: address)), process: Self.appA, at: t0 + Int64(index))
        }
        let sizes = tracker.sizes
        #expect(sizes.addresses <= 1000)
        #expect(sizes.names <= 500)
        #expect(sizes.pendingQueries <= 100)
        #expect(tracker.name(forRemote: "198.18.15.159", process: Self.appA, at: t0 + 4000)?.hostname == "n3999.example")
    }
}
