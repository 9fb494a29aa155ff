import TestSupport
import PacketParsing
import Testing

@testable import ProcessAttribution

/// The join of socket events to flows, without a kernel: events as the BPF programs report them.
struct SocketEventIndexTests {
    let client = ip("198.18.70.1")
    let server = ip("198.18.70.2")
    let second: Int64 = 1_000_000_000

    func event(
        pid: Int32, comm: String = "client", time: Int64, proto: UInt8 = 17, local: IPAddress? = nil, localPort: UInt16,
        remote: IPAddress = IPAddress(v4: 0), remotePort: UInt16 = 0, cookie: UInt64, socketClass: SocketEvent.SocketClass = .ported,
        bytes: UInt32 = 0, netns: UInt64 = 4_026_531_840
    ) -> SocketEvent {
        SocketEvent(
            kind: .socket(.send), socketClass: socketClass, pid: pid, startTime: UInt64(pid) * 10, comm: comm, netns: netns,
            cookie: cookie, time: time, ipProtocol: proto, localAddress: local ?? IPAddress(v4: 0), localPort: localPort,
            remoteAddress: remote, remotePort: remotePort, bytes: bytes)
    }

    func query(proto: UInt8 = 17, localPort: UInt16, remotePort: UInt16 = 7001) -> SocketQuery {
        SocketQuery(ipProtocol: proto, localAddress: client, localPort: localPort, remoteAddress: server, remotePort: remotePort)
    }

    func pid(_ match: SocketEventIndex.Match) -> Int32? {
        if case .owner(let owner, _, _) = match { return owner.pid }
        return nil
    }

    @Test func findsAConnectedTCPSocketByItsFiveTuple() {
        var index = SocketEventIndex()
        index.apply(event(pid: 10, time: 5 * second, proto: 6, local: client, localPort: 40_000, remote: server, remotePort: 7000, cookie: 1))
        #expect(pid(index.match(query(proto: 6, localPort: 40_000, remotePort: 7000), flowStart: 5 * second, horizon: second)) == 10)
        // Another peer on the same local port is another connection: not this socket.
        #expect(index.match(query(proto: 6, localPort: 40_000, remotePort: 7999), flowStart: 5 * second, horizon: second) == .none)
    }

    @Test func findsAnUnconnectedUDPSocketByItsPortWhateverTheDestination() {
        var index = SocketEventIndex()
        index.apply(event(pid: 11, time: 5 * second, localPort: 50_000, cookie: 2))
        #expect(pid(index.match(query(localPort: 50_000, remotePort: 53), flowStart: 6 * second, horizon: second)) == 11)
        #expect(pid(index.match(query(localPort: 50_000, remotePort: 7001), flowStart: 60 * second, horizon: second)) == 11)
        #expect(index.match(query(localPort: 50_001), flowStart: 6 * second, horizon: second) == .none)
    }

    @Test func aReusedPortBelongsToTheLatestOwnerBeforeTheFlow() {
        var index = SocketEventIndex()
        index.apply(event(pid: 20, comm: "old", time: 1 * second, localPort: 50_000, cookie: 3))
        index.apply(event(pid: 21, comm: "new", time: 30 * second, localPort: 50_000, cookie: 4))
        // A flow of the first socket's time is the first process's; one after the second report, the second's.
        #expect(pid(index.match(query(localPort: 50_000), flowStart: 2 * second, horizon: second)) == 20)
        #expect(pid(index.match(query(localPort: 50_000), flowStart: 30 * second, horizon: second)) == 21)
        // A report that arrives a little after the flow's first packet (a receiver reading) counts once
        // the earlier socket is known to be gone.
        let closed: (UInt64, UInt64) -> Bool = { cookie, _ in cookie != 3 }
        #expect(pid(index.match(query(localPort: 50_000), flowStart: 30 * second - second / 2, horizon: second, stillHolds: closed)) == 21)
        #expect(pid(index.match(query(localPort: 50_000), flowStart: 30 * second - second / 2, horizon: second)) == 20)
    }

    @Test func aSocketThatTakesThePortJustAfterTheFlowIsNotItsOwner() {
        var index = SocketEventIndex()
        let start = 40 * second
        // The flow's sender reports as its send returns; another program draws the same port 0.4 s later.
        index.apply(event(pid: 24, comm: "sender", time: start + 40_000, localPort: 50_200, cookie: 16))
        index.apply(event(pid: 25, comm: "later", time: start + 400_000_000, localPort: 50_200, cookie: 17))
        #expect(pid(index.match(query(localPort: 50_200), flowStart: start, horizon: second)) == 24)
        // The later one's own flow is its own.
        #expect(pid(index.match(query(localPort: 50_200), flowStart: start + 399_000_000, horizon: second)) == 25)
    }

    @Test func aReportOlderThanTheFlowCountsOnlyOnceTheRingWasReadAfterIt() {
        var index = SocketEventIndex()
        // A socket that had the port a while ago; the flow's own socket may not have reported yet.
        index.apply(event(pid: 22, comm: "earlier", time: 1 * second, localPort: 50_100, cookie: 14))
        let start = 30 * second
        #expect(index.match(query(localPort: 50_100), flowStart: start, horizon: second, readUpTo: start + 1_000_000) == .unsettled)
        // Read since: had another socket sent the flow, its report would be here.
        #expect(pid(index.match(query(localPort: 50_100), flowStart: start, horizon: second, readUpTo: start + 20_000_000)) == 22)
        index.apply(event(pid: 23, comm: "newer", time: start + 30_000, localPort: 50_100, cookie: 15))
        #expect(pid(index.match(query(localPort: 50_100), flowStart: start, horizon: second, readUpTo: start + 1_000_000)) == 23)
    }

    @Test func aSocketBoundToAnotherAddressIsNotTheFlows() {
        var index = SocketEventIndex()
        index.apply(event(pid: 30, time: second, local: ip("10.0.0.1"), localPort: 5353, cookie: 5))
        #expect(index.match(query(localPort: 5353), flowStart: second, horizon: second) == .none)
        index.apply(event(pid: 31, time: second, local: client, localPort: 5353, cookie: 6))
        #expect(pid(index.match(query(localPort: 5353), flowStart: second, horizon: second)) == 31)
    }

    @Test func aWildcardSocketOfThisNamespaceIsNotTheServerOfARemoteAddress() {
        var index = SocketEventIndex()
        let own: UInt64 = 4_026_531_840
        // A DNS server of this machine, bound to every address.
        index.apply(event(pid: 35, comm: "dnsmasq", time: second, localPort: 53, cookie: 12, netns: own))
        // A query to a remote resolver, seen from its far end: not the local DNS server's.
        let remote = SocketQuery(ipProtocol: 17, localAddress: ip("198.18.9.9"), localPort: 53, remoteAddress: client, remotePort: 40_000)
        #expect(index.match(remote, flowStart: second, horizon: second, ownNetns: own) == .none)
        // A query to this machine's own address is.
        var local = remote
        local.localAddress = client
        local.localAddressIsOwn = true
        #expect(pid(index.match(local, flowStart: second, horizon: second, ownNetns: own)) == 35)
        // A server bound to every address in another namespace (a container) serves its own addresses.
        index.apply(event(pid: 36, comm: "server", time: 2 * second, localPort: 5300, cookie: 13, netns: own + 1))
        var container = remote
        container.localPort = 5300
        #expect(pid(index.match(container, flowStart: 2 * second, horizon: second, ownNetns: own)) == 36)
    }

    @Test func ipv4MappedAddressesOfDualStackSocketsMatchIPv4Flows() {
        var index = SocketEventIndex()
        index.apply(event(
            pid: 40, time: second, proto: 6, local: ip("::ffff:198.18.70.1"), localPort: 41_000,
            remote: ip("::ffff:198.18.70.2"), remotePort: 7000, cookie: 7))
        #expect(pid(index.match(query(proto: 6, localPort: 41_000, remotePort: 7000), flowStart: second, horizon: second)) == 40)
    }

    @Test func rawAndPacketSocketsAreMatchedByTimeAndLength() {
        var index = SocketEventIndex()
        index.apply(event(pid: 50, time: 10 * second, proto: 1, localPort: 0, cookie: 8, socketClass: .rawIP, bytes: 64))
        let icmp = SocketQuery(ipProtocol: 1, localAddress: client, localPort: 77, remoteAddress: server, remotePort: 0)
        #expect(pid(index.matchSender(icmp, flowStart: 10 * second, firstPacketBytes: 84)) == 50)
        #expect(index.matchSender(icmp, flowStart: 20 * second, firstPacketBytes: 84) == .none)
        // A packet socket's frame carries its link header: 14 bytes of Ethernet more than the IP packet.
        index.apply(event(pid: 51, time: 30 * second, proto: 0, localPort: 0, cookie: 9, socketClass: .packet, bytes: 42 + 14))
        #expect(pid(index.matchSender(query(localPort: 9), flowStart: 30 * second, firstPacketBytes: 42)) == 51)
        #expect(index.matchSender(query(localPort: 9), flowStart: 30 * second, firstPacketBytes: 500) == .none)
        // Two writers in the same instant: naming one would be a guess.
        index.apply(event(pid: 52, time: 30 * second, proto: 0, localPort: 0, cookie: 10, socketClass: .packet, bytes: 42 + 14))
        #expect(index.matchSender(query(localPort: 9), flowStart: 30 * second, firstPacketBytes: 42) == .ambiguous)
    }

    @Test func execEventsAreKeptByPidAndStartTime() {
        var index = SocketEventIndex()
        index.apply(SocketEvent(kind: .exec, pid: 60, startTime: 600, ppid: 1, comm: "curl", time: second, path: "/usr/bin/curl"))
        #expect(index.exec(pid: 60, startTime: 600)?.path == "/usr/bin/curl")
        #expect(index.exec(pid: 60, startTime: 601) == nil)
    }

    @Test func oldReportsExpire() {
        var index = SocketEventIndex()
        index.retention = 60 * second
        index.apply(event(pid: 70, time: second, localPort: 50_500, cookie: 11))
        index.expire(now: 120 * second)
        #expect(index.match(query(localPort: 50_500), flowStart: 2 * second, horizon: second) == .none)
        #expect(index.count == 0)
    }
}
