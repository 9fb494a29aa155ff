import TestSupport
import Foundation
import Logging
import PacketParsing
import Testing
@testable import ProcessAttribution

/// The attributor on fake /proc trees: /proc-only mode (no netlink), so every answer comes from the files.
@Suite struct FakeProcAttributionTests {
    static let ownNetns: UInt64 = 4026531840

    func attributor(_ fake: FakeProc, otherNamespaces: Bool = false) throws -> Attributor {
        try fake.write("passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
        try fake.link("self", to: "1")
        var options = Attributor.Options()
        options.useProcessEvents = false
        options.useSocketDiagnostics = false
        options.passwdPath = fake.root + "/passwd"
        options.fullScanInterval = 0
        options.attributeOtherNamespaces = otherNamespaces
        let attributor = Attributor(procRoot: fake.root, logger: Logger(label: "test"), options: options)
        return attributor
    }

    /// init (1) → bash (100) → python3 (200) holding TCP socket 5001 and UDP socket 5002.
    func family(_ fake: FakeProc) throws {
        try fake.process(pid: 1, ppid: 0, comm: "init", startTime: 1, uid: 0, arguments: ["/sbin/init"], exe: "/sbin/init")
        try fake.process(pid: 100, ppid: 1, comm: "bash", startTime: 50, arguments: ["bash", "-l"], exe: "/usr/bin/bash")
        try fake.process(
            pid: 200, ppid: 100, comm: "python3", startTime: 77, arguments: ["python3", "client.py"], exe: "/usr/bin/python3.11",
            cgroup: "0::/system.slice/tt-client.service", sockets: [5001, 5002])
    }

    @Test func attributesTCPAndUDPFromFakeTablesWithFullIdentity() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        let local = ip("198.18.0.1"), remote = ip("198.18.0.2")
        try fake.write("net/tcp", tcpHeader + "\n" + procLine(0, local: local, 40000, remote: remote, 443, state: 1, inode: 5001) + "\n")
        try fake.write("net/tcp6", tcpHeader + "\n")
        try fake.write("net/udp", udpHeader + "\n" + procLine(0, local: ip("0.0.0.0"), 5353, remote: ip("0.0.0.0"), 0, state: 7, inode: 5002) + "\n")
        try fake.write("net/udp6", udpHeader + "\n")
        let attributor = try attributor(fake)
        try attributor.start()
        defer { attributor.stop() }

        let tcp = attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: local, localPort: 40000, remoteAddress: remote, remotePort: 443), at: 0)
        let identity = try #require(tcp.identity)
        #expect(identity.pid == 200)
        #expect(identity.startTime == 77)
        #expect(identity.exe == "/usr/bin/python3.11")
        #expect(identity.arguments == ["python3", "client.py"])
        #expect(identity.cmdline == "python3 client.py")
        #expect(identity.comm == "python3")
        #expect(identity.uid == 1000 && identity.user == "alice")
        #expect(identity.ppid == 100 && identity.parentExe == "/usr/bin/bash" && identity.parentCmdline == "bash -l")
        #expect(identity.grandparentExe == "/sbin/init")
        #expect(identity.unit == "tt-client.service")
        #expect(identity.netns == Self.ownNetns)

        let udp = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: 5353, remoteAddress: remote, remotePort: 53), at: 0)
        #expect(udp.identity?.pid == 200)
        let none = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: 5354, remoteAddress: remote, remotePort: 53), at: 0)
        #expect(none == .unattributed(.noSocket))
    }

    @Test func theStickyCacheKeepsAClosedSocketsProcess() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        let local = ip("127.0.0.1"), remote = ip("127.0.0.1")
        try fake.write("net/tcp", tcpHeader + "\n" + procLine(0, local: local, 40000, remote: remote, 8080, state: 1, inode: 5001) + "\n")
        let attributor = try attributor(fake)
        try attributor.start()
        let query = SocketQuery(ipProtocol: 6, localAddress: local, localPort: 40000, remoteAddress: remote, remotePort: 8080)
        #expect(attributor.attribute(query, at: 0).identity?.pid == 200)
        // The socket closes and the process exits.
        try fake.write("net/tcp", tcpHeader + "\n")
        try FileManager.default.removeItem(atPath: fake.root + "/200")
        #expect(attributor.attribute(query, at: 0).identity?.pid == 200)
        #expect(attributor.statistics.stickyHits == 1)
        var other = query
        other.remotePort = 8081
        #expect(attributor.attribute(other, at: 0) == .unattributed(.noSocket))
    }

    @Test func aSocketWhoseProcessVanishedMidScanIsNotAttributed() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        // Process 300 holds the socket but its stat vanished between the listing and the read.
        try fake.process(pid: 300, ppid: 1, comm: "gone", startTime: 90, arguments: ["gone"], exe: "/usr/bin/gone", sockets: [6001])
        // Process 301 lost its fd directory.
        try fake.process(pid: 301, ppid: 1, comm: "gone2", startTime: 91, arguments: ["gone2"], exe: "/usr/bin/gone2", sockets: [6002])
        try FileManager.default.removeItem(atPath: fake.root + "/301/fd")
        let local = ip("127.0.0.1")
        try fake.write("net/udp", udpHeader + "\n"
            + procLine(0, local: local, 7001, remote: ip("0.0.0.0"), 0, state: 7, inode: 6001) + "\n"
            + procLine(1, local: local, 7002, remote: ip("0.0.0.0"), 0, state: 7, inode: 6002) + "\n"
            + procLine(2, local: local, 7003, remote: ip("0.0.0.0"), 0, state: 7, inode: 0) + "\n")
        let attributor = try attributor(fake)
        try FileManager.default.removeItem(atPath: fake.root + "/300/stat")
        try attributor.start()
        for port: UInt16 in [7001, 7002, 7003] {
            let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: port, remoteAddress: local, remotePort: 9), at: 0)
            #expect(answer == .unattributed(.processExited), "port \(port)")
        }
    }

    @Test func aReusedPidIsNotTakenForTheOldProcess() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        let local = ip("127.0.0.1")
        try fake.write("net/udp", udpHeader + "\n" + procLine(0, local: local, 7001, remote: ip("0.0.0.0"), 0, state: 7, inode: 5002) + "\n")
        let attributor = try attributor(fake)
        try attributor.start()
        #expect(attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: 7001, remoteAddress: local, remotePort: 9), at: 0).identity?.exe == "/usr/bin/python3.11")
        // Process 200 ends; a new program gets pid 200 with a later start time and a new socket.
        try FileManager.default.removeItem(atPath: fake.root + "/200")
        try fake.process(pid: 200, ppid: 1, comm: "curl", startTime: 999, arguments: ["curl", "x"], exe: "/usr/bin/curl", sockets: [8001])
        try fake.write("net/udp", udpHeader + "\n" + procLine(0, local: local, 7002, remote: ip("0.0.0.0"), 0, state: 7, inode: 8001) + "\n")
        let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: 7002, remoteAddress: local, remotePort: 9), at: 0)
        #expect(answer.identity?.exe == "/usr/bin/curl")
        #expect(answer.identity?.startTime == 999)
        #expect(attributor.identity(pid: 200, startTime: 77)?.exe == "/usr/bin/python3.11", "the old identity is kept for its flows")
    }

    @Test func pingAndRawSocketsAttributeAndSeveralRawOwnersAreAmbiguous() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        try fake.process(pid: 400, ppid: 1, comm: "ping", startTime: 95, uid: 0, arguments: ["ping", "x"], exe: "/usr/bin/ping", sockets: [9001, 9002])
        try fake.write("net/icmp", udpHeader + "\n" + procLine(0, local: ip("0.0.0.0"), 0x4d2, remote: ip("0.0.0.0"), 0, state: 7, inode: 9001) + "\n")
        try fake.write("net/raw", udpHeader + "\n" + procLine(0, local: ip("0.0.0.0"), 1, remote: ip("0.0.0.0"), 0, state: 7, inode: 9002) + "\n")
        try fake.write("net/icmp6", udpHeader + "\n")
        try fake.write("net/raw6", udpHeader + "\n")
        let attributor = try attributor(fake)
        try attributor.start()
        let local = ip("198.18.0.1"), remote = ip("198.18.0.2")
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 0x4d2, remoteAddress: remote, remotePort: 0), at: 0).identity?.pid == 400)
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 0x999, remoteAddress: remote, remotePort: 0), at: 0).identity?.pid == 400, "through the raw socket")
        #expect(attributor.attribute(SocketQuery(ipProtocol: 47, localAddress: local, localPort: 0, remoteAddress: remote, remotePort: 0), at: 0) == .unattributed(.rawFrame))
        // A second process opens a raw ICMP socket: an echo with an unknown identifier is now ambiguous.
        try fake.process(pid: 401, ppid: 1, comm: "tracer", startTime: 96, uid: 0, arguments: ["tracer"], exe: "/usr/bin/tracer", sockets: [9003])
        try fake.write("net/raw", udpHeader + "\n"
            + procLine(0, local: ip("0.0.0.0"), 1, remote: ip("0.0.0.0"), 0, state: 7, inode: 9002) + "\n"
            + procLine(1, local: ip("0.0.0.0"), 1, remote: ip("0.0.0.0"), 0, state: 7, inode: 9003) + "\n")
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 0x777, remoteAddress: remote, remotePort: 0), at: 0) == .unattributed(.ambiguous))
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 3, remoteAddress: remote, remotePort: 0, hint: .icmpError), at: 0) == .unattributed(.ambiguous))
    }

    @Test func kernelRepliesAndRawFramesGetTheirReasons() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        let attributor = try attributor(fake)
        try attributor.start()
        let local = ip("198.18.0.1"), remote = ip("198.18.0.2")
        #expect(attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: local, localPort: 81, remoteAddress: remote, remotePort: 5000, hint: .tcpResetFromLocal), at: 0) == .unattributed(.kernel))
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 0, remoteAddress: remote, remotePort: 0, hint: .icmpError), at: 0) == .unattributed(.kernel))
        #expect(attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: local, localPort: 7, remoteAddress: remote, remotePort: 0, hint: .initiatedRemotely), at: 0) == .unattributed(.kernel))
        #expect(attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: local, localPort: 68, remoteAddress: remote, remotePort: 67, hint: .rawFrame), at: 0) == .unattributed(.rawFrame))
        #expect(attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: local, localPort: 81, remoteAddress: remote, remotePort: 5000), at: 0) == .unattributed(.noSocket))
    }

    @Test func aSocketInAnotherNetworkNamespaceIsReportedOrAttributedOnRequest() throws {
        for attributeThem in [false, true] {
            let fake = try FakeProc()
            defer { fake.remove() }
            try family(fake)
            try fake.process(pid: 500, ppid: 1, comm: "server", startTime: 97, arguments: ["server"], exe: "/usr/bin/server", sockets: [9500], netns: 4026532999)
            try fake.write("500/net/tcp", tcpHeader + "\n" + procLine(0, local: ip("198.18.0.2"), 80, remote: ip("198.18.0.1"), 40000, state: 1, inode: 9500) + "\n")
            try fake.write("net/tcp", tcpHeader + "\n")
            let attributor = try attributor(fake, otherNamespaces: attributeThem)
            try attributor.start()
            // Seen from this namespace, the local end is ours (198.18.0.1): the peer is the namespace's process.
            let answer = attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: ip("198.18.0.1"), localPort: 40000, remoteAddress: ip("198.18.0.2"), remotePort: 80), at: 0)
            if attributeThem {
                #expect(answer.identity?.pid == 500)
                #expect(answer.identity?.netns == 4026532999)
            } else {
                #expect(answer == .unattributed(.otherNetns))
            }
        }
    }

    /// A container (its own namespace) connects through this machine to a server in other
    /// namespaces: the flow seen here is the container's, whichever namespace is read first. The
    /// servers' listening sockets match the flow the other way round and must not take it.
    @Test func aRoutedFlowBelongsToTheNamespaceHoldingItsOwnEndNotToTheFarEndsListener() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        try family(fake)
        try fake.write("net/tcp", tcpHeader + "\n")
        let client = ip("10.213.0.2"), server = ip("198.18.213.2")
        try fake.process(
            pid: 700, ppid: 1, comm: "app", startTime: 70, arguments: ["app"], exe: "/usr/bin/app", sockets: [9700], netns: 4026533700)
        try fake.write("700/net/tcp", tcpHeader + "\n" + procLine(0, local: client, 41000, remote: server, 7100, state: 1, inode: 9700) + "\n")
        // Several far ends listening on the server's port: with the old order, each was as likely as
        // the container to be read first.
        for n in 0..<5 {
            let pid = Int32(710 + n), inode = UInt64(9710 + n)
            try fake.process(
                pid: pid, ppid: 1, comm: "server", startTime: 71, arguments: ["server"], exe: "/usr/bin/server", sockets: [inode],
                netns: 4026533710 + UInt64(n))
            try fake.write(
                "\(pid)/net/tcp", tcpHeader + "\n" + procLine(0, local: server, 7100, remote: ip("0.0.0.0"), 0, state: 10, inode: inode) + "\n")
        }
        let attributor = try attributor(fake, otherNamespaces: true)
        try attributor.start()
        defer { attributor.stop() }
        let answer = attributor.attribute(
            SocketQuery(ipProtocol: 6, localAddress: client, localPort: 41000, remoteAddress: server, remotePort: 7100), at: 0)
        #expect(answer.identity?.pid == 700)
        #expect(answer.identity?.exe == "/usr/bin/app")
    }

    @Test func theExecutableHashIsComputedAndCached() throws {
        let fake = try FakeProc()
        defer { fake.remove() }
        let exe = fake.root + "/bin-tool"
        try fake.write("bin-tool", "#!/bin/sh\necho hi\n")
        try fake.process(pid: 1, ppid: 0, comm: "init", startTime: 1, uid: 0, arguments: ["/sbin/init"], exe: "/sbin/init")
        try fake.process(pid: 600, ppid: 1, comm: "tool", startTime: 5, arguments: ["tool"], exe: exe, sockets: [6600])
        try fake.write("net/udp", udpHeader + "\n" + procLine(0, local: ip("127.0.0.1"), 7100, remote: ip("0.0.0.0"), 0, state: 7, inode: 6600) + "\n")
        let attributor = try attributor(fake)
        try attributor.start()
        let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: 7100, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: 0)
        // The lookup itself never reads the executable; hashing happens beside it, once per file.
        let identity = try #require(answer.identity)
        #expect(identity.sha256 == nil)
        let hashed = attributor.withExeHash(identity)
        // sha256sum of the script above.
        #expect(hashed.sha256 == "299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba")
        #expect(attributor.identity(pid: 600)?.sha256 == hashed.sha256, "stored with the identity")
        let again = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: 7100, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: 0)
        #expect(again.identity?.sha256 == hashed.sha256, "later lookups carry the cached hash")
    }
}
