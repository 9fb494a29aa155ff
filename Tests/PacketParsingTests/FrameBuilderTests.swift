import PacketParsing
import Testing
import TestSupport

/// The frame builder itself: what it writes must be what the decoder (and the wire) expect.
@Suite struct FrameBuilderTests {
    @Test func anIPv4HeaderCarriesAValidChecksumAndItsTrueLength() {
        let packet = FrameBuilder.packet(
            ip: .v4(from: "10.0.0.1", to: "198.18.0.1"),
            transport: .udp(sourcePort: 5353, destinationPort: 53, payload: [1, 2, 3]))
        #expect(packet.count == 20 + 8 + 3)
        #expect(packet[2] == 0 && packet[3] == 31)
        #expect(FrameBuilder.checksum(Array(packet[0..<20])) == 0)
    }

    @Test func anIPv6ExtensionChainLinksEachHeaderToTheNext() {
        let header = FrameBuilder.IPv6(
            source: "fd00::1", destination: "fd00::2",
            extensionHeaders: [.hopByHop(), .routing(addresses: ["fd00::3"]), .destinationOptions(length: 16)])
        let packet = header.packet(nextHeader: 17, payload: [0, 0, 0, 0, 0, 8, 0, 0])
        #expect(packet[6] == 0)  // IPv6 header → hop-by-hop
        #expect(packet[40] == 43)  // hop-by-hop → routing
        #expect(packet[48] == 60)  // routing (8 + 16 bytes) → destination options
        #expect(packet[72] == 17)  // destination options → UDP
        #expect(packet.count == 40 + 8 + 24 + 16 + 8)
    }
}
