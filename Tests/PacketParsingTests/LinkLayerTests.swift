import PacketParsing
import Testing
import TestSupport

@Suite struct LinkLayerTests {
    static let links = FrameBuilder.Link.all

    @Test(arguments: links)
    func everyLinkTypeCarriesIPv4ToTheDecoder(_ link: FrameBuilder.Link) throws {
        let frame = FrameBuilder.frame(
            link: link, ip: .v4(from: clientV4, to: serverV4),
            transport: .tcp(sourcePort: 40000, destinationPort: 443, flags: .syn))
        let p = try decode(frame, as: link)
        #expect(p.source == clientV4)
        #expect(p.destination == serverV4)
        #expect(p.ipProtocol == 6)
        #expect(p.sourcePort == 40000 && p.destinationPort == 443)
        #expect(p.ipLength == 40)
        #expect(p.ipVersion == 4)
    }

    @Test(arguments: links)
    func everyLinkTypeCarriesIPv6ToTheDecoder(_ link: FrameBuilder.Link) throws {
        let frame = FrameBuilder.frame(
            link: link, ip: .v6(from: clientV6, to: serverV6),
            transport: .udp(sourcePort: 5000, destinationPort: 53, payload: Array(repeating: 7, count: 30)))
        let p = try decode(frame, as: link)
        #expect(p.source == clientV6)
        #expect(p.destination == serverV6)
        #expect(p.ipProtocol == 17)
        #expect(p.ipLength == 40 + 8 + 30)
        #expect(p.payloadLength == 30)
        #expect(p.ipVersion == 6)
    }

    @Test(arguments: [UInt32(10), 24, 28, 30])
    func nullAndLoopAcceptEveryPlatformsIPv6Family(_ family: UInt32) throws {
        let ip = FrameBuilder.packet(ip: .v6(from: clientV6, to: serverV6), transport: .udp(sourcePort: 1, destinationPort: 2))
        #expect(try decode(FrameBuilder.null(ip, family: family), linkType: .null).ipVersion == 6)
        #expect(try decode(FrameBuilder.loop(ip, family: family), linkType: .loop).ipVersion == 6)
    }

    @Test func theIPv4AndIPv6LinkTypesNeedNoHeader() throws {
        let v4 = FrameBuilder.packet(ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        let v6 = FrameBuilder.packet(ip: .v6(from: clientV6, to: serverV6), transport: .udp(sourcePort: 1, destinationPort: 2))
        #expect(try decode(v4, linkType: .ipv4).source == clientV4)
        #expect(try decode(v6, linkType: .ipv6).source == clientV6)
        #expect(try decode(v4, linkType: LinkType(dataLinkType: 228)).source == clientV4)
    }

    @Test func aSingleVLANTagIsSkippedAndRecorded() throws {
        let link = FrameBuilder.Link.ethernet(vlans: [42])
        let frame = FrameBuilder.frame(link: link, ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        let p = try decode(frame, as: link)
        #expect(p.vlan == 42)
        #expect(p.ipProtocol == 17)
    }

    @Test(arguments: [UInt16(0x88a8), 0x9100, 0x8100])
    func qinqRecordsTheOuterTag(_ outer: UInt16) throws {
        let link = FrameBuilder.Link.ethernet(vlans: [100, 200], outerTagType: outer)
        let frame = FrameBuilder.frame(link: link, ip: .v6(from: clientV6, to: serverV6), transport: .udp(sourcePort: 1, destinationPort: 2))
        let p = try decode(frame, as: link)
        #expect(p.vlan == 100)
        #expect(p.source == clientV6)
    }

    @Test func linuxCookedHeadersWithAVLANTagAreSkipped() throws {
        let ip = FrameBuilder.packet(ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        let tagged = FrameBuilder.be16(7) + FrameBuilder.be16(0x0800) + ip
        let v1 = try decode(FrameBuilder.linuxCooked(tagged, protocolType: 0x8100), linkType: .linuxCooked)
        #expect(v1.vlan == 7 && v1.source == clientV4)
        let v2 = try decode(FrameBuilder.linuxCookedV2(tagged, protocolType: 0x8100), linkType: .linuxCookedV2)
        #expect(v2.vlan == 7 && v2.source == clientV4)
    }

    @Test func tooManyVLANTagsAreMalformed() {
        let link = FrameBuilder.Link.ethernet(vlans: Array(repeating: 5, count: 9), outerTagType: 0x8100)
        let frame = FrameBuilder.frame(link: link, ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        #expect(decodeError(frame, as: link) == .malformed(.link))
    }

    @Test func linuxCookedHeadersTellTheDirection() throws {
        let ip = FrameBuilder.packet(ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        #expect(try decode(FrameBuilder.linuxCooked(ip, protocolType: 0x0800, packetType: 4), linkType: .linuxCooked).linkDirection == .outgoing)
        #expect(try decode(FrameBuilder.linuxCooked(ip, protocolType: 0x0800, packetType: 0), linkType: .linuxCooked).linkDirection == .incoming)
        let v2 = try decode(FrameBuilder.linuxCookedV2(ip, protocolType: 0x0800, packetType: 4, interfaceIndex: 9), linkType: .linuxCookedV2)
        #expect(v2.linkDirection == .outgoing)
        #expect(v2.interfaceIndex == 9)
        #expect(try decode(FrameBuilder.frame(ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2)), as: .ethernet()).linkDirection == .unknown)
    }

    @Test(arguments: links)
    func aFrameWithoutIPIsNotIP(_ link: FrameBuilder.Link) {
        let arp: [UInt8] = [0, 1, 8, 0, 6, 4, 0, 1] + Array(repeating: 0, count: 20)
        let frame = link.wrap(arp, etherType: 0x0806)
        // A raw frame has no type field: there the first nibble (0 for ARP) is not an IP version.
        #expect(decodeError(frame, as: link) == .notIP)
    }

    @Test func an8023LengthFieldIsNotIP() {
        let frame = FrameBuilder.ethernet(Array(repeating: 0xaa, count: 46), etherType: 46)
        #expect(decodeError(frame, as: .ethernet()) == .notIP)
    }

    @Test(arguments: links)
    func aFrameCutInsideTheLinkHeaderIsTruncatedAtTheLinkLayer(_ link: FrameBuilder.Link) {
        let frame = FrameBuilder.frame(link: link, ip: .v4(from: clientV4, to: serverV4), transport: .udp(sourcePort: 1, destinationPort: 2))
        let headerLength = frame.count - 28
        let cut = Array(frame.prefix(max(0, headerLength - 1)))
        if headerLength == 0 {
            #expect(decodeError([], as: link) == .truncated(.link))
        } else {
            #expect(decodeError(cut, as: link) == .truncated(.link))
        }
    }

    @Test func anUnknownLinkTypeIsReportedWithItsNumber() {
        #expect(LinkType(dataLinkType: 147) == .unsupported(147))
        #expect(decodeError([0x45, 0, 0, 20], as: .raw) == .truncated(.ipv4))
        let frame: [UInt8] = Array(repeating: 0, count: 64)
        #expect(throws: DecodeError.unsupportedLinkType(147)) { try decode(frame, linkType: .unsupported(147)) }
    }

    @Test func linkTypesMapToAndFromTheirFileNumbers() {
        for link in [LinkType.ethernet, .linuxCooked, .linuxCookedV2, .null, .loop, .raw, .ipv4, .ipv6, .unsupported(147)] {
            #expect(LinkType(dataLinkType: Int32(bitPattern: link.fileLinkType)) == link)
        }
        #expect(LinkType(dataLinkType: 12) == .raw)
        #expect(LinkType(dataLinkType: 14) == .raw)
    }
}
