import Flows
import PacketParsing
import Testing
import TestSupport

@Suite struct TCPStateTests {
    typealias F = FrameBuilder.TCPFlags

    /// Plays a conversation: `true` packets go client → server, `false` ones back.
    func play(_ steps: [(Bool, F, Int)]) throws -> FlowRecord {
        var feeder = FlowFeeder()
        for (fromClient, flags, payload) in steps {
            let segment = FrameBuilder.Transport.tcp(
                sourcePort: fromClient ? 45000 : 443, destinationPort: fromClient ? 443 : 45000, flags: flags,
                payload: Array(repeating: 0x41, count: payload))
            try feeder.send(fromClient ? toServer : toClient, segment)
        }
        let flows = feeder.finish()
        #expect(flows.count == 1)
        return try #require(flows.first)
    }

    @Test func aCompleteConnectionIsSFWithItsHistory() throws {
        let r = try play([
            (true, .syn, 0), (false, .synAck, 0), (true, .ack, 0), (true, .pshAck, 100), (false, .pshAck, 300),
            (true, .finAck, 0), (false, .finAck, 0), (true, .ack, 0),
        ])
        #expect(r.connState == "SF")
        // The responder sent no pure ACK, so no "a".
        #expect(r.history.text == "ShADdFf")
        #expect(r.originatorAddress == client && r.originatorPort == 45000)
        #expect(r.originatorPackets == 5 && r.responderPackets == 3)
        #expect(r.originatorBytes == 4 * 40 + 140)
        #expect(r.responderBytes == 2 * 40 + 340)
        #expect(r.endReason == .closed)
    }

    /// A second program that takes the same port for a new connection 0.3 s after the first closed
    /// (with a reset, or FIN both ways) starts a new flow, never counted into the first's.
    @Test(arguments: [true, false])
    func aNewConnectionOnTheSamePortsAfterAResetOrCloseIsANewFlow(_ reset: Bool) throws {
        var feeder = FlowFeeder()
        func segment(_ fromClient: Bool, _ flags: F, _ payload: Int = 0) -> FrameBuilder.Transport {
            .tcp(sourcePort: fromClient ? 45557 : 443, destinationPort: fromClient ? 443 : 45557, flags: flags,
                 payload: Array(repeating: 0x41, count: payload))
        }
        for _ in 0..<2 {
            try feeder.send(toServer, segment(true, .syn), step: 300_000_000)
            try feeder.send(toClient, segment(false, .synAck))
            try feeder.send(toServer, segment(true, .ack))
            try feeder.send(toServer, segment(true, .pshAck, 3_000))
            if reset {
                try feeder.send(toServer, segment(true, .rstAck))
            } else {
                try feeder.send(toServer, segment(true, .finAck))
                try feeder.send(toClient, segment(false, .finAck))
                try feeder.send(toServer, segment(true, .ack))
            }
        }
        let flows = feeder.finish()
        #expect(flows.count == 2, "\(flows.map(\.history.text))")
        #expect(flows.allSatisfy { $0.originatorBytes == 3_000 + 40 * (reset ? 4 : 5) }, "\(flows.map(\.originatorBytes))")
        #expect(Set(flows.map(\.uid)).count == 2)
        // A SYN sent again while the connection is open is the same connection.
        var retry = FlowFeeder()
        try retry.send(toServer, segment(true, .syn))
        try retry.send(toServer, segment(true, .syn))
        try retry.send(toClient, segment(false, .synAck))
        #expect(retry.finish().count == 1)
    }

    @Test func aRefusedConnectionIsREJ() throws {
        let r = try play([(true, .syn, 0), (false, .rstAck, 0)])
        #expect(r.connState == "REJ")
        #expect(r.history.text == "Sr")
    }

    @Test func anUnansweredSYNIsS0() throws {
        let r = try play([(true, .syn, 0), (true, .syn, 0), (true, .syn, 0)])
        #expect(r.connState == "S0")
        #expect(r.originatorPackets == 3 && r.responderPackets == 0)
        #expect(r.history.text == "S")
    }

    @Test func anEstablishedConnectionTheOriginatorResetsIsRSTO() throws {
        let r = try play([(true, .syn, 0), (false, .synAck, 0), (true, .ack, 0), (true, .rst, 0)])
        #expect(r.connState == "RSTO")
    }

    @Test func anEstablishedConnectionTheResponderResetsIsRSTR() throws {
        let r = try play([(true, .syn, 0), (false, .synAck, 0), (true, .ack, 0), (false, .rstAck, 0)])
        #expect(r.connState == "RSTR")
    }

    @Test func aSYNThenAResetFromTheOriginatorIsRSTOS0() throws {
        #expect(try play([(true, .syn, 0), (true, .rst, 0)]).connState == "RSTOS0")
    }

    @Test func aSYNThenAFINIsSH() throws {
        #expect(try play([(true, .syn, 0), (true, .fin, 0)]).connState == "SH")
    }

    @Test func anEstablishedConnectionStillOpenIsS1() throws {
        #expect(try play([(true, .syn, 0), (false, .synAck, 0), (true, .ack, 0)]).connState == "S1")
    }

    @Test func halfClosedConnectionsAreS2AndS3() throws {
        #expect(try play([(true, .syn, 0), (false, .synAck, 0), (true, .ack, 0), (true, .finAck, 0)]).connState == "S2")
        #expect(try play([(true, .syn, 0), (false, .synAck, 0), (true, .ack, 0), (false, .finAck, 0)]).connState == "S3")
    }

    @Test func midstreamTrafficIsOTH() throws {
        let r = try play([(true, .pshAck, 10), (false, .ack, 0)])
        #expect(r.connState == "OTH")
        #expect(r.history.text == "Da")
    }

    @Test func aFlowFirstSeenAtTheSYNACKIsTurnedToFaceItsClient() throws {
        let r = try play([(false, .synAck, 0), (true, .ack, 0), (true, .pshAck, 10)])
        #expect(r.originatorAddress == client && r.originatorPort == 45000)
        #expect(r.responderAddress == server && r.responderPort == 443)
        #expect(r.responderPackets == 1 && r.originatorPackets == 2)
        #expect(r.history.text.contains("^"))
        #expect(r.history.text.contains("h"))
    }

    @Test func aResponderSYNACKThenResetWithoutASYNIsRSTRH() throws {
        #expect(try play([(false, .synAck, 0), (false, .rst, 0)]).connState == "RSTRH")
    }

    @Test func aResponderSYNACKThenFINWithoutASYNIsSHR() throws {
        #expect(try play([(false, .synAck, 0), (false, .finAck, 0)]).connState == "SHR")
    }

    @Test func nonTCPFlowsAreSFWhenAnsweredAndS0WhenNot() throws {
        var feeder = FlowFeeder()
        try feeder.send(toServer, .udp(sourcePort: 5000, destinationPort: 53, payload: [1]))
        try feeder.send(toClient, .udp(sourcePort: 53, destinationPort: 5000, payload: [1, 2]))
        try feeder.send(toServer, .udp(sourcePort: 5001, destinationPort: 53, payload: [1]))
        let flows = feeder.finish()
        #expect(flows.count == 2)
        #expect(flows.first { $0.originatorPort == 5000 }?.connState == "SF")
        #expect(flows.first { $0.originatorPort == 5001 }?.connState == "S0")
    }

    @Test func theHistoryHoldsAtMostSixteenLettersAndEachOncePerDirection() throws {
        var history = TCPHistory()
        for _ in 0..<3 {
            for event in [TCPHistory.Event.syn, .synAck, .ack, .data, .fin, .reset] {
                history.record(event, fromOriginator: true)
                history.record(event, fromOriginator: false)
            }
        }
        #expect(history.text == "SsHhAaDdFfRr")
    }
}
