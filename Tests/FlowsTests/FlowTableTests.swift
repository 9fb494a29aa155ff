import Flows
import PacketParsing
import Testing
import TestSupport

@Suite struct FlowTableTests {
    @Test(arguments: [FrameBuilder.IPHeader.v4(from: "10.0.0.5", to: "198.18.3.4"), .v6(from: "fd00::5", to: "2001:db8::4")])
    func anEchoRequestAndItsReplyAreOneFlow(_ ip: FrameBuilder.IPHeader) throws {
        var feeder = FlowFeeder()
        for sequence in 1...3 {
            try feeder.send(ip, .echo(identifier: 900, sequence: UInt16(sequence), payload: Array(repeating: 0, count: 56)))
            try feeder.send(ip.reversed, .echo(reply: true, identifier: 900, sequence: UInt16(sequence), payload: Array(repeating: 0, count: 56)))
        }
        let flows = feeder.finish()
        #expect(flows.count == 1)
        let r = try #require(flows.first)
        #expect(r.originatorAddress == ip.source)
        #expect(r.originatorPackets == 3 && r.responderPackets == 3)
        #expect(r.connState == "SF")
    }

    @Test func aSocketThatTakesAnExitedOwnersPortAtOnceStartsAFlowOfItsOwn() throws {
        var feeder = FlowFeeder()
        let datagram = FrameBuilder.Transport.udp(sourcePort: 40_000, destinationPort: 7001, payload: [1, 2, 3])
        let reply = FrameBuilder.Transport.udp(sourcePort: 7001, destinationPort: 40_000, payload: [4])
        let fromServer = FrameBuilder.IPHeader.v4(from: server, to: client)
        try feeder.send(toServer, datagram)
        let key = try #require(feeder.table.openFlows.first?.key)
        feeder.table.setOwner(OwnerAnswer(process: ProcessKey(pid: 100, startTime: 5)), of: key)
        let exit = feeder.clock + 500_000
        feeder.table.noteExits([(pid: 100, at: exit)])
        // The reply comes after the exit: still the same conversation.
        try feeder.send(fromServer, reply)
        #expect(feeder.table.count == 1 && feeder.table.ended.isEmpty)
        // A datagram sent after the exit from the same address and port: another process's socket,
        // before the sweep has ended the old flow.
        try feeder.send(toServer, datagram, step: 10_000_000)
        #expect(feeder.table.ended.map(\.endReason) == [.ownerExited])
        #expect(feeder.table.ended.first?.originatorPackets == 1 && feeder.table.ended.first?.responderPackets == 1)
        #expect(feeder.table.openFlows.map(\.originatorPackets) == [1])
        #expect(feeder.table.openFlows.first?.owner == nil)
        // A TCP connection is not ended by its owner's exit.
        try feeder.send(toServer, .tcp(sourcePort: 40_001, destinationPort: 80, flags: .syn))
        let tcpKey = try #require(feeder.table.openFlows.first { $0.ipProtocol == 6 }?.key)
        feeder.table.setOwner(OwnerAnswer(process: ProcessKey(pid: 101, startTime: 6)), of: tcpKey)
        feeder.table.noteExits([(pid: 101, at: feeder.clock)])
        try feeder.send(toServer, .tcp(sourcePort: 40_001, destinationPort: 80, flags: .ack))
        #expect(feeder.table.ended.count == 1)
        #expect(feeder.finish().count == 3)
    }

    @Test func aDatagramFlowEndsWithItsOwnerAndTheNextProcessOnThePortStartsAnother() throws {
        var feeder = FlowFeeder()
        let datagram = FrameBuilder.Transport.udp(sourcePort: 40_000, destinationPort: 7001, payload: [1, 2, 3])
        try feeder.send(toServer, datagram)
        let key = try #require(feeder.table.openFlows.first?.key)
        let process = OwnerAnswer(process: ProcessKey(pid: 100, startTime: 5))
        feeder.table.setOwner(process, of: key)
        // A TCP flow of the same process ends by its own FIN or timeout, not here.
        try feeder.send(toServer, .tcp(sourcePort: 40_001, destinationPort: 80, flags: .syn))
        let tcpKey = try #require(feeder.table.openFlows.first { $0.ipProtocol == 6 }?.key)
        feeder.table.setOwner(process, of: tcpKey)
        // Within the grace after the exit, what was sent before it may still be on its way.
        feeder.table.noteExits([(pid: 99, at: feeder.clock), (pid: 100, at: feeder.clock)])
        feeder.table.endFlowsOfExitedOwners(now: feeder.clock + FlowTable.exitGrace - 1)
        #expect(feeder.table.count == 2)
        feeder.table.endFlowsOfExitedOwners(now: feeder.clock + FlowTable.exitGrace)
        #expect(feeder.table.count == 1)
        #expect(feeder.table.ended.map(\.endReason) == [.ownerExited])
        // Another program that draws the same port later has a flow of its own.
        try feeder.send(toServer, datagram)
        #expect(feeder.finish().count == 3)
    }

    @Test func pingsWithDifferentIdentifiersAreDifferentFlows() throws {
        var feeder = FlowFeeder()
        try feeder.send(toServer, .echo(identifier: 1))
        try feeder.send(toServer, .echo(identifier: 2))
        #expect(feeder.finish().count == 2)
    }

    @Test func aLoopbackPingPairsRequestAndReplyAlthoughBothEndsShareTheAddress() throws {
        var feeder = FlowFeeder(link: .null())
        let lo = FrameBuilder.IPHeader.v4(from: "127.0.0.1", to: "127.0.0.1")
        for sequence in 1...3 {
            try feeder.send(lo, .echo(identifier: 7, sequence: UInt16(sequence), payload: Array(repeating: 0, count: 56)))
            try feeder.send(lo, .echo(reply: true, identifier: 7, sequence: UInt16(sequence), payload: Array(repeating: 0, count: 56)))
        }
        let flows = feeder.finish()
        #expect(flows.count == 1)
        #expect(flows.first?.originatorPackets == 3)
        #expect(flows.first?.responderPackets == 3)
    }

    @Test func aLoopbackPingFirstSeenAtItsReplyCountsTheReplyForTheResponder() throws {
        var feeder = FlowFeeder(link: .null())
        let lo = FrameBuilder.IPHeader.v6(from: "::1", to: "::1")
        try feeder.send(lo, .echo(reply: true, identifier: 7, sequence: 1, payload: Array(repeating: 0, count: 10)))
        try feeder.send(lo, .echo(identifier: 7, sequence: 2))
        try feeder.send(lo, .echo(reply: true, identifier: 7, sequence: 2))
        let r = try #require(feeder.finish().first)
        #expect(r.originatorPackets == 1)
        #expect(r.responderPackets == 2)
    }

    @Test func aPingFirstSeenAtItsReplyIsTurnedToFaceTheRequester() throws {
        var feeder = FlowFeeder()
        try feeder.send(toClient, .echo(reply: true, identifier: 3))
        let r = try #require(feeder.finish().first)
        #expect(r.originatorAddress == client)
        #expect(r.responderPackets == 1 && r.originatorPackets == 0)
    }

    @Test func loopbackTCPSidesAreToldApartByPort() throws {
        var feeder = FlowFeeder(link: .null())
        let lo = FrameBuilder.IPHeader.v4(from: "127.0.0.1", to: "127.0.0.1")
        try feeder.send(lo, .tcp(sourcePort: 50000, destinationPort: 8080, flags: .syn))
        try feeder.send(lo, .tcp(sourcePort: 8080, destinationPort: 50000, flags: .synAck))
        try feeder.send(lo, .tcp(sourcePort: 50000, destinationPort: 8080, flags: .ack))
        let r = try #require(feeder.finish().first)
        #expect(r.originatorPort == 50000 && r.responderPort == 8080)
        #expect(r.originatorPackets == 2 && r.responderPackets == 1)
        #expect(r.connState == "S1")
    }

    @Test(arguments: [false, true])
    func allFragmentsOfADatagramCountInOneFlow(_ v6: Bool) throws {
        var feeder = FlowFeeder()
        let big = FrameBuilder.Transport.udp(sourcePort: 6000, destinationPort: 6001, payload: Array(repeating: 9, count: 4000))
        let fragments: [[UInt8]]
        if v6 {
            fragments = FrameBuilder.ipv6Fragments(FrameBuilder.IPv6(source: "fd00::5", destination: "2001:db8::4"), transport: big, fragmentPayload: 1448)
        } else {
            fragments = FrameBuilder.ipv4Fragments(FrameBuilder.IPv4(source: client, destination: server), transport: big, fragmentPayload: 1480)
        }
        for fragment in fragments { try feeder.feed(FrameBuilder.Link.ethernet().wrap(fragment)) }
        // A small unfragmented datagram of the same conversation joins the same flow.
        try feeder.send(v6 ? .v6(from: "fd00::5", to: "2001:db8::4") : toServer, .udp(sourcePort: 6000, destinationPort: 6001, payload: [1]))
        let flows = feeder.finish()
        #expect(flows.count == 1)
        let r = try #require(flows.first)
        #expect(r.originatorPackets == Int64(fragments.count) + 1)
        let expectedBytes: Int = fragments.map(\.count).reduce(0, +) + (v6 ? 49 : 29)
        #expect(r.originatorBytes == Int64(expectedBytes))
        #expect(feeder.table.counters.orphanFragments == 0)
    }

    @Test func aLaterFragmentWithoutItsFirstIsCountedAsAnOrphan() throws {
        var feeder = FlowFeeder()
        let big = FrameBuilder.Transport.udp(sourcePort: 6000, destinationPort: 6001, payload: Array(repeating: 9, count: 3000))
        let fragments = FrameBuilder.ipv4Fragments(FrameBuilder.IPv4(source: client, destination: server), transport: big, fragmentPayload: 1480)
        try feeder.feed(FrameBuilder.Link.ethernet().wrap(fragments[2]))
        #expect(feeder.table.counters.orphanFragments == 1)
        #expect(feeder.table.count == 1)
    }

    @Test func aFragmentedPingIsOneFlowWithItsReply() throws {
        var feeder = FlowFeeder()
        let request = FrameBuilder.ipv4Fragments(FrameBuilder.IPv4(source: client, destination: server), transport: .echo(identifier: 5, payload: Array(repeating: 0, count: 3000)), fragmentPayload: 1480)
        let reply = FrameBuilder.ipv4Fragments(FrameBuilder.IPv4(source: server, destination: client), transport: .echo(reply: true, identifier: 5, payload: Array(repeating: 0, count: 3000)), fragmentPayload: 1480)
        for fragment in request + reply { try feeder.feed(FrameBuilder.Link.ethernet().wrap(fragment)) }
        let flows = feeder.finish()
        #expect(flows.count == 1)
        #expect(flows.first?.originatorPackets == Int64(request.count))
        #expect(flows.first?.responderPackets == Int64(reply.count))
    }

    @Test func theSameConversationOnTwoVLANsIsTwoFlows() throws {
        var a = FlowFeeder(link: .ethernet(vlans: [10]))
        try a.send(toServer, .udp(sourcePort: 1, destinationPort: 2))
        var b = FlowFeeder(link: .ethernet(vlans: [20]), table: a.table)
        try b.send(toServer, .udp(sourcePort: 1, destinationPort: 2))
        #expect(b.table.count == 2)
    }

    @Test func idleFlowsEndWhenPacketTimeMovesOn() throws {
        var feeder = FlowFeeder(table: FlowTable(timeouts: FlowTimeouts(udpIdle: 10 * FlowTimeouts.second, active: 0), uidSeed: 3))
        try feeder.send(toServer, .udp(sourcePort: 1, destinationPort: 2))
        try feeder.send(toServer, .udp(sourcePort: 3, destinationPort: 4), step: 11 * FlowTimeouts.second)
        #expect(feeder.table.ended.count == 1)
        #expect(feeder.table.ended.first?.originatorPort == 1)
        #expect(feeder.table.ended.first?.endReason == .idle)
        #expect(feeder.table.count == 1)
    }

    @Test func aClosedTCPConnectionEndsSoonAfterItsLastPacket() throws {
        var feeder = FlowFeeder()
        for (ip, flags) in [(toServer, FrameBuilder.TCPFlags.syn), (toClient, .rstAck)] {
            let segment = FrameBuilder.Transport.tcp(
                sourcePort: ip == toServer ? 45000 : 443, destinationPort: ip == toServer ? 443 : 45000, flags: flags)
            try feeder.send(ip, segment)
        }
        feeder.table.expire(now: feeder.clock + 3 * FlowTimeouts.second)
        #expect(feeder.table.ended.first?.endReason == .closed)
        #expect(feeder.table.count == 0)
    }

    @Test func anActiveFlowIsHandedOutAsAnUpdate() throws {
        var feeder = FlowFeeder(table: FlowTable(timeouts: FlowTimeouts(active: 5 * FlowTimeouts.second), uidSeed: 3))
        for _ in 0..<8 { try feeder.send(toServer, .udp(sourcePort: 1, destinationPort: 2), step: FlowTimeouts.second) }
        #expect(feeder.table.updated.count == 1)
        #expect(feeder.table.count == 1)
        #expect(feeder.table.ended.isEmpty)
    }

    @Test func aFullTableEvictsItsLeastRecentFlowsAndNeverGrowsPastItsCapacity() throws {
        var feeder = FlowFeeder(table: FlowTable(capacity: 100, uidSeed: 3))
        for port in 1...1000 {
            try feeder.send(toServer, .udp(sourcePort: UInt16(port), destinationPort: 53))
            #expect(feeder.table.count <= 100)
        }
        #expect(feeder.table.counters.flowsEvicted >= 900)
        #expect(feeder.table.ended.allSatisfy { $0.endReason == .evicted })
        // The newest flows stay.
        #expect(feeder.table.openFlows.contains { $0.originatorPort == 1000 })
        #expect(!feeder.table.openFlows.contains { $0.originatorPort == 1 })
    }

    @Test func equalSeedsGiveEqualUIDsAndDistinctFlowsDistinctUIDs() throws {
        func uids(seed: UInt64) throws -> [UInt64] {
            var feeder = FlowFeeder(table: FlowTable(uidSeed: seed))
            for port in 1...50 { try feeder.send(toServer, .udp(sourcePort: UInt16(port), destinationPort: 53)) }
            return feeder.finish().sorted { $0.originatorPort < $1.originatorPort }.map(\.uid)
        }
        let a = try uids(seed: 9), b = try uids(seed: 9), c = try uids(seed: 10)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count == 50)
    }
}
