import PacketParsing
import Testing
import TestSupport

@Suite struct IPLayerTests {
    let udp = FrameBuilder.Transport.udp(sourcePort: 4000, destinationPort: 53, payload: Array(repeating: 1, count: 12))

    @Test func ipv4OptionsMoveTheTransportHeader() throws {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.options = [0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]  // router alert, NOPs, end
        let packet = header.packet(protocol: 17, payload: udp.bytes(source: clientV4, destination: serverV4, v6: false))
        let p = try decode(packet, as: .raw)
        #expect(p.sourcePort == 4000 && p.destinationPort == 53)
        #expect(p.ipLength == 28 + 8 + 12)
        #expect(p.payloadLength == 12)
        #expect(p.payloadOffset == 28 + 8)
    }

    @Test(arguments: [UInt8(0), 3, 4])
    func anIPv4HeaderLengthBelowTwentyIsMalformed(_ words: UInt8) {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.headerLengthWords = words
        #expect(decodeError(header.packet(protocol: 17, payload: Array(repeating: 0, count: 8)), as: .raw) == .malformed(.ipv4))
    }

    @Test func anIPv4HeaderLongerThanTheFrameIsTruncated() {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.headerLengthWords = 15
        #expect(decodeError(header.packet(protocol: 17, payload: Array(repeating: 0, count: 8)), as: .raw) == .truncated(.ipv4))
    }

    @Test func aWrongVersionNibbleIsMalformed() {
        var v4 = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        v4.version = 5
        // Behind Ethernet the EtherType says IPv4, so a version of 5 is a lie.
        let frame = FrameBuilder.Link.ethernet().wrap(v4.packet(protocol: 17, payload: Array(repeating: 0, count: 8)), etherType: 0x0800)
        #expect(decodeError(frame, as: .ethernet()) == .malformed(.ipv4))
        var v6 = FrameBuilder.IPv6(source: clientV6, destination: serverV6)
        v6.version = 4
        let frame6 = FrameBuilder.Link.ethernet().wrap(v6.packet(nextHeader: 17, payload: Array(repeating: 0, count: 8)), etherType: 0x86dd)
        #expect(decodeError(frame6, as: .ethernet()) == .malformed(.ipv6))
    }

    @Test func aRawFrameWithAnUnknownVersionIsNotIP() {
        #expect(decodeError([0x50] + Array(repeating: 0, count: 40), as: .raw) == .notIP)
    }

    @Test func anIPv4TotalLengthShorterThanItsHeaderIsMalformed() {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.totalLength = 12
        #expect(decodeError(header.packet(protocol: 17, payload: Array(repeating: 0, count: 8)), as: .raw) == .malformed(.ipv4))
    }

    @Test func anIPv4TotalLengthBeyondTheWireIsMalformed() {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.totalLength = 1500
        let packet = header.packet(protocol: 17, payload: udp.bytes(source: clientV4, destination: serverV4, v6: false))
        #expect(decodeError(packet, as: .raw) == .malformed(.ipv4))
    }

    @Test func anIPv6PayloadLengthBeyondTheWireIsMalformed() {
        var header = FrameBuilder.IPv6(source: clientV6, destination: serverV6)
        header.payloadLength = 1400
        let packet = header.packet(nextHeader: 17, payload: udp.bytes(source: clientV6, destination: serverV6, v6: true))
        #expect(decodeError(packet, as: .raw) == .malformed(.ipv6))
    }

    @Test func aSnapLengthCutKeepsTheWireLengthOfThePacket() throws {
        let frame = FrameBuilder.frame(
            ip: .v4(from: clientV4, to: serverV4),
            transport: .tcp(sourcePort: 1, destinationPort: 2, flags: .ack, payload: Array(repeating: 9, count: 1400)))
        let cut = Array(frame.prefix(96))
        let p = try decode(cut, as: .ethernet(), wireLength: frame.count)
        #expect(p.ipLength == 1440)
        #expect(p.payloadLength == 1400)
        #expect(p.payloadOffset == 14 + 40)
    }

    @Test func ethernetPaddingIsNotCounted() throws {
        let frame = FrameBuilder.frame(ip: .v4(from: clientV4, to: serverV4), transport: .tcp(sourcePort: 1, destinationPort: 2, flags: .ack))
        let padded = frame + Array(repeating: 0, count: 60 - frame.count)
        let p = try decode(padded, as: .ethernet())
        #expect(p.ipLength == 40)
        #expect(p.payloadLength == 0)
    }

    @Test func aZeroIPv4TotalLengthFromSegmentationOffloadTakesTheWireLength() throws {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.totalLength = 0
        let payload = FrameBuilder.Transport.tcp(sourcePort: 1, destinationPort: 2, flags: .ack, payload: Array(repeating: 3, count: 3000))
        let packet = header.packet(protocol: 6, payload: payload.bytes(source: clientV4, destination: serverV4, v6: false))
        let p = try decode(packet, as: .raw)
        #expect(p.ipLength == 3040)
        #expect(p.payloadLength == 3000)
    }

    @Test func ipv4FragmentsCarryTheirIdentifierAndOnlyTheFirstHasPorts() throws {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.identification = 0xbeef
        let big = FrameBuilder.Transport.udp(sourcePort: 7000, destinationPort: 7001, payload: Array(repeating: 5, count: 3000))
        let fragments = FrameBuilder.ipv4Fragments(header, transport: big, fragmentPayload: 1480)
        #expect(fragments.count == 3)
        let decoded = try fragments.map { try decode($0, as: .raw) }
        #expect(decoded.allSatisfy { $0.isFragment && $0.fragmentIdentifier == 0xbeef && $0.ipProtocol == 17 })
        #expect(!decoded[0].isLaterFragment && decoded[0].sourcePort == 7000)
        #expect(decoded[1].isLaterFragment && decoded[1].sourcePort == 0)
        #expect(decoded[2].isLaterFragment)
        let total: Int = decoded.map(\.ipLength).reduce(0, +)
        #expect(total == 3008 + 3 * 20)
    }

    @Test func aDontFragmentBitAloneIsNotAFragment() throws {
        var header = FrameBuilder.IPv4(source: clientV4, destination: serverV4)
        header.dontFragment = true
        let p = try decode(header.packet(protocol: 17, payload: udp.bytes(source: clientV4, destination: serverV4, v6: false)), as: .raw)
        #expect(!p.isFragment)
    }

    @Test func ipv6ExtensionHeadersAreWalkedToTheTransport() throws {
        let header = FrameBuilder.IPv6(
            source: clientV6, destination: serverV6,
            extensionHeaders: [.hopByHop(), .destinationOptions(length: 16), .routing(addresses: [serverV6]), .authentication(),
                               .destinationOptions()])
        let frame = FrameBuilder.Link.ethernet().wrap(header.packet(
            nextHeader: 6,
            payload: FrameBuilder.Transport.tcp(sourcePort: 33000, destinationPort: 22, flags: .syn)
                .bytes(source: clientV6, destination: serverV6, v6: true)))
        let p = try decode(frame, as: .ethernet())
        #expect(p.ipProtocol == 6)
        #expect(p.sourcePort == 33000 && p.destinationPort == 22)
        #expect(p.tcpFlags == 0x02)
        #expect(p.ipLength == 40 + 8 + 16 + 24 + 24 + 8 + 20)
    }

    @Test func anIPv6AtomicFragmentIsNotAFragment() throws {
        let header = FrameBuilder.IPv6(source: clientV6, destination: serverV6, extensionHeaders: [.fragment()])
        let p = try decode(header.packet(nextHeader: 17, payload: udp.bytes(source: clientV6, destination: serverV6, v6: true)), as: .raw)
        #expect(!p.isFragment)
        #expect(p.destinationPort == 53)
    }

    @Test func ipv6FragmentsCarryTheirIdentifierAndProtocol() throws {
        let header = FrameBuilder.IPv6(source: clientV6, destination: serverV6, extensionHeaders: [.hopByHop()])
        let big = FrameBuilder.Transport.echo(identifier: 77, payload: Array(repeating: 1, count: 2000))
        let fragments = FrameBuilder.ipv6Fragments(header, transport: big, fragmentPayload: 1232, identification: 99)
        #expect(fragments.count == 2)
        let first = try decode(fragments[0], as: .raw)
        let second = try decode(fragments[1], as: .raw)
        #expect(first.isFragment && !first.isLaterFragment && first.icmpIdentifier == 77 && first.icmpType == 128)
        #expect(second.isFragment && second.isLaterFragment && second.ipProtocol == 58 && second.fragmentIdentifier == 99)
    }

    @Test func anExtensionHeaderCutByTheFrameIsTruncated() {
        let header = FrameBuilder.IPv6(source: clientV6, destination: serverV6, extensionHeaders: [.hopByHop(length: 16)])
        let packet = header.packet(nextHeader: 59, payload: [])
        #expect(decodeError(Array(packet.prefix(40)), as: .raw, wireLength: packet.count) == .truncated(.extensionHeader))
    }

    @Test func anExtensionHeaderLongerThanThePacketIsMalformed() {
        var header = FrameBuilder.IPv6(source: clientV6, destination: serverV6, extensionHeaders: [.other(type: 60, body: [200, 1, 4, 0, 0, 0, 0])])
        header.payloadLength = 8
        #expect(decodeError(header.packet(nextHeader: 59, payload: []), as: .raw) == .malformed(.extensionHeader))
    }

    @Test func anEndlessExtensionChainIsMalformed() {
        let chain = Array(repeating: FrameBuilder.IPv6ExtensionHeader.destinationOptions(), count: 40)
        let header = FrameBuilder.IPv6(source: clientV6, destination: serverV6, extensionHeaders: chain)
        #expect(decodeError(header.packet(nextHeader: 59, payload: []), as: .raw) == .malformed(.extensionHeader))
    }

    @Test func noNextHeaderIsAPortlessPacket() throws {
        let header = FrameBuilder.IPv6(source: clientV6, destination: serverV6)
        let p = try decode(header.packet(nextHeader: 59, payload: [1, 2, 3, 4]), as: .raw)
        #expect(p.ipProtocol == 59)
        #expect(p.payloadLength == 4)
        #expect(p.sourcePort == 0)
    }

    @Test func aFrameCutInsideTheIPHeaderIsTruncated() throws {
        let v4 = FrameBuilder.frame(ip: .v4(from: clientV4, to: serverV4), transport: udp)
        #expect(decodeError(Array(v4.prefix(14 + 19)), as: .ethernet(), wireLength: v4.count) == .truncated(.ipv4))
        let v6 = FrameBuilder.frame(ip: .v6(from: clientV6, to: serverV6), transport: udp)
        #expect(decodeError(Array(v6.prefix(14 + 39)), as: .ethernet(), wireLength: v6.count) == .truncated(.ipv6))
    }
}
