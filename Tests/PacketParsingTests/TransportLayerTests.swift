import PacketParsing
import Testing
import TestSupport

@Suite struct TransportLayerTests {
    static let ipHeaders: [FrameBuilder.IPHeader] = [.v4(from: clientV4, to: serverV4), .v6(from: clientV6, to: serverV6)]

    @Test(arguments: ipHeaders)
    func tcpGivesPortsFlagsAndPayload(_ ip: FrameBuilder.IPHeader) throws {
        let payload = Array("GET / HTTP/1.1\r\n".utf8)
        let frame = FrameBuilder.frame(
            ip: ip, transport: .tcp(sourcePort: 51000, destinationPort: 80, flags: .pshAck, payload: payload,
                                    options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]))
        let p = try decode(frame, as: .ethernet())
        #expect(p.ipProtocol == 6)
        #expect(p.sourcePort == 51000 && p.destinationPort == 80)
        #expect(p.tcpFlags == 0x18)
        #expect(p.payloadLength == payload.count)
        #expect(Array(frame[p.payloadOffset...]) == payload)
    }

    @Test(arguments: ipHeaders)
    func udpGivesPortsAndPayload(_ ip: FrameBuilder.IPHeader) throws {
        let payload: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 1]
        let frame = FrameBuilder.frame(link: .linuxCookedV2(), ip: ip, transport: .udp(sourcePort: 53, destinationPort: 33333, payload: payload))
        let p = try decode(frame, as: .linuxCookedV2())
        #expect(p.ipProtocol == 17)
        #expect(p.sourcePort == 53 && p.destinationPort == 33333)
        #expect(p.payloadLength == 5)
        #expect(Array(frame[p.payloadOffset...]) == payload)
    }

    @Test(arguments: ipHeaders)
    func echoRequestsAndRepliesCarryTypeAndIdentifier(_ ip: FrameBuilder.IPHeader) throws {
        let v6: Bool
        if case .v6 = ip { v6 = true } else { v6 = false }
        let request = try decode(FrameBuilder.frame(ip: ip, transport: .echo(identifier: 0x4242, sequence: 3, payload: Array(repeating: 0, count: 56))), as: .ethernet())
        let reply = try decode(FrameBuilder.frame(ip: ip.reversed, transport: .echo(reply: true, identifier: 0x4242, sequence: 3)), as: .ethernet())
        #expect(request.ipProtocol == (v6 ? 58 : 1))
        #expect(request.icmpType == (v6 ? 128 : 8))
        #expect(reply.icmpType == (v6 ? 129 : 0))
        #expect(request.icmpIdentifier == 0x4242 && reply.icmpIdentifier == 0x4242)
        #expect(request.sourcePort == 0 && request.destinationPort == 0)
        #expect(request.ipLength == (v6 ? 40 : 20) + 8 + 56)
    }

    @Test func icmpErrorsCarryNoIdentifier() throws {
        let p = try decode(FrameBuilder.frame(ip: .v4(from: serverV4, to: clientV4), transport: .icmp(type: 3, code: 3, rest: [0, 0, 0, 0, 0x45, 0])), as: .ethernet())
        #expect(p.icmpType == 3 && p.icmpCode == 3)
        #expect(p.icmpIdentifier == 0)
    }

    @Test(arguments: ipHeaders)
    func sctpGivesPorts(_ ip: FrameBuilder.IPHeader) throws {
        let chunk = FrameBuilder.sctpDataChunk(Array(repeating: 1, count: 10))
        let p = try decode(FrameBuilder.frame(link: .null(), ip: ip, transport: .sctp(sourcePort: 2905, destinationPort: 2906, chunks: chunk)), as: .null())
        #expect(p.ipProtocol == 132)
        #expect(p.sourcePort == 2905 && p.destinationPort == 2906)
        #expect(p.payloadLength == chunk.count)
    }

    @Test(arguments: [UInt8(47), 50, 89, 103, 253])
    func anyOtherProtocolIsAPortlessPacket(_ number: UInt8) throws {
        for ip in Self.ipHeaders {
            let p = try decode(FrameBuilder.frame(link: .loop(), ip: ip, transport: .other(protocolNumber: number, payload: Array(repeating: 0, count: 24))), as: .loop())
            #expect(p.ipProtocol == number)
            #expect(p.sourcePort == 0 && p.destinationPort == 0)
            #expect(p.payloadLength == 24)
        }
    }

    @Test func udpLiteGivesPorts() throws {
        let p = try decode(FrameBuilder.frame(ip: .v4(from: clientV4, to: serverV4), transport: .other(protocolNumber: 136, payload: [0, 7, 0, 9, 0, 8, 0, 0])), as: .ethernet())
        #expect(p.sourcePort == 7 && p.destinationPort == 9)
    }

    @Test func aTCPDataOffsetBelowFiveIsMalformed() {
        let frame = FrameBuilder.frame(ip: .v4(from: clientV4, to: serverV4), transport: .tcp(sourcePort: 1, destinationPort: 2, flags: .syn, dataOffsetWords: 4))
        #expect(decodeError(frame, as: .ethernet()) == .malformed(.tcp))
    }

    /// Each transport header cut one byte short of what the decoder needs, with the wire length intact
    /// (a snap length cut) and with the IP length saying the datagram itself ends there.
    static let cuts: [(FrameBuilder.Transport, Int, DecodeError.Layer)] = [
        (.tcp(sourcePort: 1, destinationPort: 2, flags: .syn), 13, .tcp),
        (.udp(sourcePort: 1, destinationPort: 2), 3, .udp),
        (.echo(identifier: 1), 5, .icmp),
        (.icmp(type: 3, code: 1), 1, .icmp),
        (.sctp(sourcePort: 1, destinationPort: 2), 11, .sctp),
    ]

    @Test(arguments: 0..<cuts.count)
    func aTransportHeaderCutByTheSnapLengthIsTruncated(_ index: Int) {
        let (transport, keep, layer) = Self.cuts[index]
        for ip in Self.ipHeaders {
            let frame = FrameBuilder.frame(ip: ip, transport: transport)
            let headerEnd = frame.count - transport.bytes(source: ip.source, destination: ip.destination, v6: ip.source.family == .v6).count
            let cut = Array(frame.prefix(headerEnd + keep))
            #expect(decodeError(cut, as: .ethernet(), wireLength: frame.count) == .truncated(layer), "\(transport) over \(ip)")
        }
    }

    @Test(arguments: 0..<cuts.count)
    func aTransportHeaderLongerThanItsDatagramIsTruncatedEvenWithPadding(_ index: Int) {
        let (transport, keep, layer) = Self.cuts[index]
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        let body = transport.bytes(source: clientV4, destination: serverV4, v6: false)
        header.totalLength = UInt16(20 + keep)
        // The full header follows in the frame, but past the datagram's end: Ethernet padding, not TCP/UDP.
        let frame = FrameBuilder.Link.ethernet().wrap(header.packet(protocol: transport.protocolNumber(v6: false), payload: body))
        #expect(decodeError(frame, as: .ethernet()) == .truncated(layer), "\(transport)")
    }
}
