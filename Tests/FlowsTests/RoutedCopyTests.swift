import Flows
import PacketParsing
import Testing
import TestSupport

/// A packet routed or bridged through this machine is captured on every interface it crosses (with
/// `any`); it is one packet of one flow, the inside one when address translation rewrote it.
@Suite struct RoutedCopyTests {
    static let inside: IPAddress = "10.213.0.2"
    static let outside: IPAddress = "198.18.213.1"
    static let server: IPAddress = "198.18.213.2"
    static let incoming: UInt8 = 0, outgoing: UInt8 = 4
    static let veth: UInt32 = 5, bridge: UInt32 = 6, uplink: UInt32 = 7

    static func frame(
        _ source: IPAddress, _ sourcePort: UInt16, _ destination: IPAddress, _ destinationPort: UInt16,
        on interface: UInt32, _ packetType: UInt8, ttl: UInt8 = 64, id: UInt16, flags: FrameBuilder.TCPFlags = .pshAck,
        payload: Int = 100, sequence: UInt32 = 1000
    ) -> [UInt8] {
        var ip = FrameBuilder.IPv4(source: source, destination: destination)
        ip.ttl = ttl
        ip.identification = id
        return FrameBuilder.frame(
            link: .linuxCookedV2(packetType: packetType, interfaceIndex: interface), ip: .v4(ip),
            transport: .tcp(sourcePort: sourcePort, destinationPort: destinationPort, flags: flags,
                            payload: Array(repeating: 0x41, count: payload), sequence: sequence))
    }

    @Test func aPacketBridgedAndRoutedWithoutTranslationCountsOnce() throws {
        var feeder = FlowFeeder(link: .linuxCookedV2())
        for i in 0..<10 {
            let id = UInt16(100 + i), sequence = UInt32(1000 + 100 * i)
            // Out of the container: its veth, the bridge, the uplink (one hop later).
            for (interface, type, ttl) in [(Self.veth, Self.incoming, 64), (Self.bridge, Self.incoming, 64), (Self.uplink, Self.outgoing, 63)] {
                try feeder.feed(Self.frame(Self.inside, 40_000, Self.server, 8080, on: interface, type, ttl: UInt8(ttl), id: id, sequence: sequence), step: 1_000)
            }
            // The reply: in on the uplink, out on the bridge and the veth.
            for (interface, type, ttl) in [(Self.uplink, Self.incoming, 64), (Self.bridge, Self.outgoing, 63), (Self.veth, Self.outgoing, 63)] {
                try feeder.feed(Self.frame(Self.server, 8080, Self.inside, 40_000, on: interface, type, ttl: UInt8(ttl), id: id, payload: 50, sequence: sequence), step: 1_000)
            }
        }
        let flows = feeder.finish()
        #expect(flows.count == 1)
        let flow = try #require(flows.first)
        #expect(flow.originatorPackets == 10 && flow.responderPackets == 10)
        #expect(flow.originatorBytes == 10 * 140 && flow.responderBytes == 10 * 90)
        #expect(feeder.table.counters.copies == 40)
    }

    @Test func aMasqueradedFlowIsCountedOnceAsTheContainersFlow() throws {
        var feeder = FlowFeeder(link: .linuxCookedV2())
        for i in 0..<10 {
            let id = UInt16(200 + i), sequence = UInt32(5000 + 100 * i)
            let flags: FrameBuilder.TCPFlags = i == 0 ? .syn : .pshAck
            let size = i == 0 ? 0 : 100
            try feeder.feed(Self.frame(Self.inside, 40_000, Self.server, 8080, on: Self.veth, Self.incoming, id: id, flags: flags, payload: size, sequence: sequence), step: 1_000)
            try feeder.feed(Self.frame(Self.outside, 61_000, Self.server, 8080, on: Self.uplink, Self.outgoing, ttl: 63, id: id, flags: flags, payload: size, sequence: sequence), step: 1_000)
            let reply: FrameBuilder.TCPFlags = i == 0 ? .synAck : .ack
            try feeder.feed(Self.frame(Self.server, 8080, Self.outside, 61_000, on: Self.uplink, Self.incoming, id: id, flags: reply, payload: 0, sequence: sequence), step: 1_000)
            try feeder.feed(Self.frame(Self.server, 8080, Self.inside, 40_000, on: Self.veth, Self.outgoing, ttl: 63, id: id, flags: reply, payload: 0, sequence: sequence), step: 1_000)
        }
        let flows = feeder.finish()
        #expect(flows.count == 1, "\(flows.map { "\($0.originatorAddress):\($0.originatorPort)" })")
        let flow = try #require(flows.first)
        #expect(flow.originatorAddress == Self.inside && flow.originatorPort == 40_000)
        #expect(flow.originatorPackets == 10 && flow.responderPackets == 10)
        #expect(flow.originatorBytes == 9 * 140 + 40)
        #expect(feeder.table.counters.translatedFlows == 1)
        // The container is the local end, though its packets came in on an interface of this machine.
        #expect(flow.isRouted)
        let facing = flow.orientation(in: LocalNetwork(addresses: ["10.213.0.1", Self.outside]))
        #expect(facing.originatorIsLocal && facing.direction == .outbound)
    }

    @Test func aProgramHereRelayingTheSameBytesHasAFlowOfItsOwn() throws {
        var feeder = FlowFeeder(link: .linuxCookedV2())
        // A datagram arrives for a relay here, which sends the same bytes on with a fresh hop limit.
        var arriving = FrameBuilder.IPv4(source: Self.inside, destination: "10.213.0.1")
        arriving.identification = 0
        var relayed = FrameBuilder.IPv4(source: Self.outside, destination: Self.server)
        relayed.identification = 0
        let payload = Array(repeating: UInt8(9), count: 64)
        try feeder.feed(FrameBuilder.frame(link: .linuxCookedV2(packetType: Self.incoming, interfaceIndex: Self.veth), ip: .v4(arriving),
                                           transport: .udp(sourcePort: 40_000, destinationPort: 53, payload: payload)), step: 1_000)
        try feeder.feed(FrameBuilder.frame(link: .linuxCookedV2(packetType: Self.outgoing, interfaceIndex: Self.uplink), ip: .v4(relayed),
                                           transport: .udp(sourcePort: 50_000, destinationPort: 53, payload: payload)), step: 1_000)
        #expect(feeder.finish().count == 2)
        #expect(feeder.table.counters.copies == 0)
    }

    @Test func aFlowThatMovesToAnotherInterfaceIsCountedThere() throws {
        var feeder = FlowFeeder(link: .linuxCookedV2())
        for i in 0..<3 {
            try feeder.feed(Self.frame(Self.inside, 40_000, Self.server, 8080, on: Self.veth, Self.outgoing, id: UInt16(i), sequence: UInt32(i * 100)), step: 1_000_000)
        }
        // Two seconds later the same flow leaves by another interface only (a failover).
        for i in 3..<6 {
            try feeder.feed(Self.frame(Self.inside, 40_000, Self.server, 8080, on: Self.uplink, Self.outgoing, id: UInt16(i), sequence: UInt32(i * 100)), step: i == 3 ? 2_000_000_000 : 1_000_000)
        }
        let flow = try #require(feeder.finish().first)
        #expect(flow.originatorPackets == 6)
        #expect(feeder.table.counters.copies == 0)
    }
}
