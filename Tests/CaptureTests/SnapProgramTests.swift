import Capture
import PacketParsing
import Testing
import TestSupport

/// The per-packet snap length: whole packets where naming needs the payload, headers elsewhere, and
/// the byte count of a cut packet still its IP length.
@Suite struct SnapProgramTests {
    static let links: [FrameBuilder.Link] = [.ethernet(), .linuxCooked(), .linuxCookedV2(), .raw]
    static let full: UInt32 = 8192
    static let v4 = FrameBuilder.IPHeader.v4(from: "10.0.0.5", to: "198.18.3.4")
    static let v6 = FrameBuilder.IPHeader.v6(from: "fd00::5", to: "2001:db8::4")

    static func snap(_ link: FrameBuilder.Link, _ ip: FrameBuilder.IPHeader, _ transport: FrameBuilder.Transport) throws -> (kept: UInt32, frame: [UInt8]) {
        let program = try #require(SnapProgram.instructions(linkType: link.linkType, snapLength: full))
        let frame = FrameBuilder.frame(link: link, ip: ip, transport: transport)
        return (PcapHandle.evaluate(program, frame: frame), frame)
    }

    static func linkLength(_ link: FrameBuilder.Link) -> Int {
        switch link.linkType {
        case .ethernet: 14
        case .linuxCooked: 16
        case .linuxCookedV2: 20
        default: 0
        }
    }

    @Test(arguments: links)
    func bulkSegmentsKeepTheirHeadersOnlyAndStillCountTheirWholeLength(_ link: FrameBuilder.Link) throws {
        for (ip, ipHeader) in [(Self.v4, 20), (Self.v6, 40)] {
            let data = FrameBuilder.Transport.tcp(
                sourcePort: 5201, destinationPort: 40_000, flags: .ack, payload: Array(repeating: 0x5a, count: 1400))
            let (kept, frame) = try Self.snap(link, ip, data)
            #expect(Int(kept) == Self.linkLength(link) + ipHeader + 20, "\(link) \(ip)")
            // The decoder reads the cut frame and counts what the IP header says crossed the wire.
            let cut = Array(frame.prefix(Int(kept)))
            let summary = try cut.withUnsafeBytes { try PacketDecoder(linkType: link.linkType).decode($0, wireLength: frame.count) }
            #expect(summary.ipLength == ipHeader + 20 + 1400)
            #expect(summary.payloadLength == 1400)
            #expect(summary.sourcePort == 5201)
            let datagram = FrameBuilder.Transport.udp(sourcePort: 9000, destinationPort: 9001, payload: Array(repeating: 1, count: 900))
            #expect(Int(try Self.snap(link, ip, datagram).kept) == Self.linkLength(link) + ipHeader + 8)
        }
    }

    @Test(arguments: links)
    func whatNamingReadsIsKeptWhole(_ link: FrameBuilder.Link) throws {
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01] + Array(repeating: 0, count: 600)
        let cases: [(String, FrameBuilder.IPHeader, FrameBuilder.Transport)] = [
            ("TLS record on any port", Self.v4, .tcp(sourcePort: 40_000, destinationPort: 9443, flags: .pshAck, payload: hello)),
            ("continuation to 443", Self.v4, .tcp(sourcePort: 40_000, destinationPort: 443, flags: .ack, payload: Array(repeating: 7, count: 1000))),
            ("HTTP request", Self.v6, .tcp(sourcePort: 40_000, destinationPort: 8000, flags: .pshAck, payload: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))),
            ("SYN", Self.v4, .tcp(sourcePort: 40_000, destinationPort: 5201, flags: .syn)),
            ("DNS query", Self.v4, .udp(sourcePort: 40_000, destinationPort: 53, payload: Array(repeating: 3, count: 60))),
            ("DNS answer", Self.v6, .udp(sourcePort: 53, destinationPort: 40_000, payload: Array(repeating: 3, count: 300))),
            ("DNS over TCP", Self.v4, .tcp(sourcePort: 53, destinationPort: 40_000, flags: .ack, payload: Array(repeating: 3, count: 300))),
            ("mDNS", Self.v4, .udp(sourcePort: 5353, destinationPort: 5353, payload: Array(repeating: 3, count: 60))),
            ("QUIC Initial", Self.v4, .udp(sourcePort: 40_000, destinationPort: 4433, payload: [0xc3, 0, 0, 0, 1] + Array(repeating: 0, count: 1195))),
            ("ping", Self.v4, .echo(identifier: 9, payload: Array(repeating: 0, count: 56))),
        ]
        for (name, ip, transport) in cases {
            let (kept, frame) = try Self.snap(link, ip, transport)
            #expect(kept == Self.full, "\(name) on \(link): kept \(kept) of \(frame.count)")
        }
    }

    @Test(arguments: links)
    func downloadsFromPort443AndShortHeaderQUICAreCut(_ link: FrameBuilder.Link) throws {
        let download = FrameBuilder.Transport.tcp(sourcePort: 443, destinationPort: 40_000, flags: .ack, payload: Array(repeating: 0x17, count: 1400))
        #expect(Int(try Self.snap(link, Self.v4, download).kept) == Self.linkLength(link) + 40)
        let shortHeader = FrameBuilder.Transport.udp(sourcePort: 443, destinationPort: 40_000, payload: [0x43] + Array(repeating: 0, count: 1200))
        #expect(Int(try Self.snap(link, Self.v6, shortHeader).kept) == Self.linkLength(link) + 48)
        // Payload too short to hold a method is judged by its first byte, never read past its end.
        let tiny = FrameBuilder.Transport.tcp(sourcePort: 5201, destinationPort: 40_000, flags: .ack, payload: [0x47, 0x45])
        #expect(Int(try Self.snap(link, Self.v4, tiny).kept) == Self.linkLength(link) + 40)
    }

    @Test func aFragmentIsKeptWholeAndAnIPv4HeaderWithOptionsIsMeasured() throws {
        var fragment = FrameBuilder.IPv4(source: "10.0.0.5", destination: "198.18.3.4")
        fragment.moreFragments = true
        let udp = FrameBuilder.Transport.udp(sourcePort: 9000, destinationPort: 9001, payload: Array(repeating: 1, count: 900))
        #expect(try Self.snap(.ethernet(), .v4(fragment), udp).kept == Self.full)
        var options = FrameBuilder.IPv4(source: "10.0.0.5", destination: "198.18.3.4")
        options.options = [0x94, 4, 0, 0, 1, 1, 1, 1]
        #expect(try Self.snap(.ethernet(), .v4(options), udp).kept == 14 + 28 + 8)
    }
}
