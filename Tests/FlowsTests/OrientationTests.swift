import Flows
import PacketParsing
import Testing
import TestSupport

func facing(_ o: FlowOrientation, _ direction: FlowDirection, originatorIsLocal: Bool) -> Bool {
    o.direction == direction && o.originatorIsLocal == originatorIsLocal
}

@Suite struct OrientationTests {
    func record(_ link: FrameBuilder.Link, _ ip: FrameBuilder.IPHeader) throws -> FlowRecord {
        var feeder = FlowFeeder(link: link)
        try feeder.send(ip, .udp(sourcePort: 1, destinationPort: 2))
        return try #require(feeder.finish().first)
    }

    @Test func aFlowFromOneOfOurAddressesIsOutbound() throws {
        let local = LocalNetwork(addresses: [client])
        #expect(facing(try record(.ethernet(), toServer).orientation(in: local), .outbound, originatorIsLocal: true))
        #expect(facing(try record(.ethernet(), toClient).orientation(in: local), .inbound, originatorIsLocal: false))
    }

    @Test func aFlowBetweenTwoLocalEndsIsLocal() throws {
        #expect(try record(.null(), .v4(from: "127.0.0.1", to: "127.0.0.2")).orientation(in: LocalNetwork()).direction == .local)
        #expect(try record(.null(), .v6(from: "::1", to: "::1")).orientation(in: LocalNetwork()).direction == .local)
        let lan = LocalNetwork(networks: [IPNetwork("10.0.0.0/8")].compactMap { $0 })
        #expect(try record(.ethernet(), .v4(from: "10.0.0.1", to: "10.9.9.9")).orientation(in: lan).direction == .local)
    }

    @Test func withoutKnownAddressesTheLinkLayerDirectionDecides() throws {
        let out = try record(.linuxCooked(packetType: 4), .v4(from: "203.0.113.1", to: "198.18.0.1"))
        #expect(out.orientation(in: LocalNetwork()).direction == .outbound)
        let inbound = try record(.linuxCookedV2(packetType: 0), .v4(from: "203.0.113.1", to: "198.18.0.1"))
        #expect(facing(inbound.orientation(in: LocalNetwork()), .inbound, originatorIsLocal: false))
    }

    @Test func withoutAddressesOrDirectionAPrivateAddressFacingTheInternetIsLocal() throws {
        #expect(try record(.ethernet(), .v4(from: "198.18.0.1", to: "192.168.1.10")).orientation(in: LocalNetwork()).direction == .inbound)
        #expect(try record(.ethernet(), .v4(from: "192.168.1.10", to: "198.18.0.1")).orientation(in: LocalNetwork()).direction == .outbound)
        // Multicast is never the local end.
        #expect(try record(.ethernet(), .v4(from: "198.18.0.1", to: "239.1.1.1")).orientation(in: LocalNetwork()).direction == .outbound)
    }

    @Test func anIPv4MappedAddressIsLocalLikeItsIPv4Form() {
        let local = LocalNetwork(addresses: [client])
        #expect(local.isLocal(client.mappedV6))
    }
}
