import TestSupport
import Foundation
import PacketParsing
import Testing
@testable import ProcessAttribution

@Suite struct SocketTableTests {
    @Test func parsesAnIPv4TCPLineAsTheKernelPrintsIt() throws {
        // A line copied from a little-endian machine: 127.0.0.1:631 listening.
        let text = tcpHeader + "\n   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 100 0 0 10 0\n"
        let parsed = SocketTable.parse(text, kind: .tcp)
        let entry = try #require(parsed.entries.first)
        #expect(entry.localAddress == ip("127.0.0.1"))
        #expect(entry.localPort == 631)
        #expect(entry.remoteAddress == ip("0.0.0.0"))
        #expect(entry.state == SocketEntry.tcpListen)
        #expect(entry.uid == 0)
        #expect(entry.inode == 23456)
        #expect(parsed.malformedLines == 0)
    }

    @Test func parsesIPv6AndMappedAddressesInTCP6AndUDP6() throws {
        let text = udpHeader + "\n"
            + "  1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 777 2 0000000000000000 0\n"
            + "  2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 778 2 0000000000000000 0\n"
        let parsed = SocketTable.parse(text, kind: .udp6)
        #expect(parsed.entries.count == 2)
        #expect(parsed.entries[0].localAddress == ip("::1"))
        #expect(parsed.entries[0].localPort == 53)
        #expect(parsed.entries[0].ipProtocol == 17)
        #expect(parsed.entries[1].localAddress == ip("::ffff:127.0.0.1"))
        #expect(parsed.entries[1].remoteAddress == ip("::ffff:127.0.0.2"))
        #expect(parsed.entries[1].remotePort == 0xD431)
        let tcp6 = SocketTable.parse(tcpHeader + "\n" + "   0: 00000000000000000000000001000000:0016 00000000000000000000000001000000:A000 01 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 20 4 30 10 -1\n", kind: .tcp6)
        #expect(tcp6.entries.first?.ipProtocol == 6)
        #expect(tcp6.entries.first?.remotePort == 0xA000)
    }

    @Test func readsEveryTableFormatWrittenByTheFormatter() {
        let local = ip("198.18.0.1"), remote = ip("198.18.0.2")
        for kind in SocketTableKind.allCases {
            let l = kind.isIPv6 ? local.mappedV6 : local
            let r = kind.isIPv6 ? remote.mappedV6 : remote
            let text = udpHeader + "\n" + procLine(0, local: l, 4000, remote: r, 5000, state: 1, inode: 4242) + "\n"
            let parsed = SocketTable.parse(text, kind: kind)
            #expect(parsed.entries == [SocketEntry(ipProtocol: kind.ipProtocol, localAddress: l, localPort: 4000, remoteAddress: r, remotePort: 5000, state: 1, uid: 1000, inode: 4242)], "table \(kind)")
        }
    }

    @Test func skipsAndCountsMalformedLines() {
        let good = procLine(3, local: ip("10.0.0.1"), 22, remote: ip("10.0.0.2"), 50000, state: 1, inode: 5)
        let text = [
            tcpHeader,
            "   0: 0100007F:0277",                                      // truncated
            "   1: 0100007G:0277 00000000:0000 0A 0 0 0 0 0 1",          // not hex
            "   2: 0100007F:0277 00000000:0000 0A 0 0 0 x 0 1",          // uid not a number
            "   4: 0100007F 00000000:0000 0A 0 0 0 0 0 1",               // no port
            "   5: 0100007F:0277 00000000:0000 0A 0 0 0 0 0 99999999999999999999999", // inode overflows
            good,
            "garbage without colon",
        ].joined(separator: "\n")
        let parsed = SocketTable.parse(text, kind: .tcp)
        #expect(parsed.entries.count == 1)
        #expect(parsed.entries.first?.inode == 5)
        #expect(parsed.malformedLines == 6)
    }
}

@Suite struct SocketMatcherTests {
    let local = ip("198.18.0.1"), remote = ip("198.18.0.2")

    func udp(_ l: IPAddress, _ lp: UInt16, _ r: IPAddress, _ rp: UInt16, inode: UInt64) -> SocketEntry {
        SocketEntry(ipProtocol: 17, localAddress: l, localPort: lp, remoteAddress: r, remotePort: rp, state: 7, uid: 0, inode: inode)
    }

    @Test func prefersTheExactUDPTupleThenMappedThenBoundThenWildcard() {
        let query = SocketQuery(ipProtocol: 17, localAddress: local, localPort: 5353, remoteAddress: remote, remotePort: 53)
        let exact = udp(local, 5353, remote, 53, inode: 1)
        let mapped = udp(local.mappedV6, 5353, remote.mappedV6, 53, inode: 2)
        let bound = udp(local, 5353, ip("0.0.0.0"), 0, inode: 3)
        let wildcard = udp(ip("0.0.0.0"), 5353, ip("0.0.0.0"), 0, inode: 4)
        let wildcard6 = udp(ip("::"), 5353, ip("::"), 0, inode: 5)
        let otherPeer = udp(local, 5353, ip("198.18.0.9"), 53, inode: 6)
        var pool = [wildcard6, wildcard, bound, mapped, exact, otherPeer]
        for expected in [1, 2, 3, 4, 5] as [UInt64] {
            let best = SocketMatcher.best(for: query, in: pool)
            #expect(best.map(\.inode) == [expected])
            pool.removeAll { $0.inode == expected }
        }
        #expect(SocketMatcher.best(for: query, in: pool).isEmpty, "a socket connected to another peer never matches")
    }

    @Test func anIPv4SocketNeverCarriesIPv6() {
        let query = SocketQuery(ipProtocol: 17, localAddress: ip("fd00::1"), localPort: 9, remoteAddress: ip("fd00::2"), remotePort: 9)
        #expect(SocketMatcher.best(for: query, in: [udp(ip("0.0.0.0"), 9, ip("0.0.0.0"), 0, inode: 1)]).isEmpty)
        #expect(SocketMatcher.best(for: query, in: [udp(ip("::"), 9, ip("::"), 0, inode: 2)]).map(\.inode) == [2])
    }

    @Test func tcpMatchesExactlyOrFallsBackToTheListener() {
        let query = SocketQuery(ipProtocol: 6, localAddress: local, localPort: 80, remoteAddress: remote, remotePort: 40000)
        let listener = SocketEntry(ipProtocol: 6, localAddress: ip("::"), localPort: 80, remoteAddress: ip("::"), remotePort: 0, state: 10, uid: 0, inode: 10)
        let other = SocketEntry(ipProtocol: 6, localAddress: local, localPort: 80, remoteAddress: remote, remotePort: 40001, state: 1, uid: 0, inode: 11)
        let exact = SocketEntry(ipProtocol: 6, localAddress: local.mappedV6, localPort: 80, remoteAddress: remote.mappedV6, remotePort: 40000, state: 1, uid: 0, inode: 12)
        #expect(SocketMatcher.best(for: query, in: [listener, other]).map(\.inode) == [10])
        #expect(SocketMatcher.best(for: query, in: [listener, other, exact]).map(\.inode) == [12])
    }

    @Test func pingSocketsMatchTheEchoIdentifierAndRawSocketsTheProtocol() {
        let query = SocketQuery(ipProtocol: 1, localAddress: local, localPort: 0x1234, remoteAddress: remote, remotePort: 0)
        let ping = SocketEntry(ipProtocol: 1, localAddress: ip("0.0.0.0"), localPort: 0x1234, remoteAddress: ip("0.0.0.0"), remotePort: 0, state: 7, uid: 0, inode: 20)
        let otherPing = SocketEntry(ipProtocol: 1, localAddress: ip("0.0.0.0"), localPort: 0x9999, remoteAddress: ip("0.0.0.0"), remotePort: 0, state: 7, uid: 0, inode: 21)
        let rawICMP = SocketEntry(ipProtocol: 255, localAddress: ip("0.0.0.0"), localPort: 1, remoteAddress: ip("0.0.0.0"), remotePort: 0, state: 7, uid: 0, inode: 22)
        let rawTCP = SocketEntry(ipProtocol: 255, localAddress: ip("0.0.0.0"), localPort: 6, remoteAddress: ip("0.0.0.0"), remotePort: 0, state: 7, uid: 0, inode: 23)
        #expect(SocketMatcher.best(for: query, in: [ping, otherPing]).map(\.inode) == [20])
        #expect(SocketMatcher.best(for: query, in: [rawICMP, rawTCP]).map(\.inode) == [22])
    }
}

@Suite struct ProcTextTests {
    @Test func readsStatWhoseCommHoldsSpacesAndParentheses() throws {
        let text = "4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n"
        let stat = try #require(ProcText.stat(text))
        #expect(stat.comm == "we (ird) name")
        #expect(stat.ppid == 17)
        #expect(stat.startTime == 987654)
        #expect(ProcText.stat("4242 (x) S 1 2") == nil)
        #expect(ProcText.stat("no parentheses at all") == nil)
    }

    @Test func readsUidCmdlineAndLinks() {
        #expect(ProcText.uid(fromStatus: "Name:\tx\nUid:\t1001\t1001\t1001\t1001\nGid:\t5\n") == 1001)
        #expect(ProcText.uid(fromStatus: "Name:\tx\n") == nil)
        #expect(ProcText.arguments(fromCmdline: Array("python3\0-c\0print(1)\0".utf8)) == ["python3", "-c", "print(1)"])
        #expect(ProcText.arguments(fromCmdline: Array("a\0\0b\0".utf8)) == ["a", "", "b"])
        #expect(ProcText.inode(inLink: "socket:[12345]", kind: "socket") == 12345)
        #expect(ProcText.inode(inLink: "net:[4026531840]", kind: "net") == 4026531840)
        #expect(ProcText.inode(inLink: "pipe:[12345]", kind: "socket") == nil)
        #expect(ProcText.inode(inLink: "socket:[12x45]", kind: "socket") == nil)
        #expect(ProcText.inode(inLink: "socket:[]", kind: "socket") == nil)
    }

    @Test func readsTheUnifiedCgroupAndPasswd() {
        #expect(ProcText.cgroupPath("12:pids:/a\n1:name=systemd:/system.slice/x.service\n0::/system.slice/ssh.service\n") == "/system.slice/ssh.service")
        #expect(ProcText.cgroupPath("4:memory:/process_api/abc\n1:name=systemd:/init.scope\n") == "/init.scope")
        let users = ProcText.users(fromPasswd: "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\nalice:x:1000:1000::/home/alice:/bin/sh\n")
        #expect(users == [0: "root", 1000: "alice"])
    }

    @Test func derivesUnitsAndContainersFromCgroupPaths() {
        let id = String(repeating: "ab12", count: 16)
        #expect(CgroupInfo(path: "/system.slice/ssh.service") == CgroupInfo(unit: "ssh.service", container: nil))
        #expect(CgroupInfo(path: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope").unit == "app-gnome-firefox-4242.scope")
        #expect(CgroupInfo(path: "/system.slice/docker-\(id).scope") == CgroupInfo(unit: nil, container: id))
        #expect(CgroupInfo(path: "/machine.slice/libpod-\(id).scope/container").container == id)
        #expect(CgroupInfo(path: "/kubepods.slice/kubepods-burstable.slice/cri-containerd-\(id).scope").container == id)
        #expect(CgroupInfo(path: "/docker/\(id)").container == id)
        #expect(CgroupInfo(path: "/").unit == nil)
        #expect(CgroupInfo(path: "/system.slice/docker-notanid.scope").container == nil)
    }

    @Test func tagsFlatpakSnapAndAppImage() {
        #expect(PackagingTags.of(exe: "/app/bin/x", cgroup: "/user.slice/app-flatpak-org.x-1.scope") == ["flatpak"])
        #expect(PackagingTags.of(exe: "/snap/firefox/1/usr/lib/firefox", cgroup: "/user.slice/snap.firefox.firefox-1.scope") == ["snap"])
        #expect(PackagingTags.of(exe: "/tmp/.mount_Cursor1/cursor", cgroup: nil) == ["appimage"])
        #expect(PackagingTags.of(exe: "/usr/bin/curl", cgroup: "/system.slice/x.service").isEmpty)
    }
}

@Suite struct NetlinkMessageTests {
    @Test func decodesAnInetDiagMessage() throws {
        var payload: [UInt8] = [2, 1, 0, 0]
        payload += [0x1f, 0x90, 0xd4, 0x31]               // ports 8080 → 54321
        payload += [127, 0, 0, 1] + Array(repeating: 0, count: 12)
        payload += [127, 0, 0, 2] + Array(repeating: 0, count: 12)
        payload += Array(repeating: 0, count: 12)         // interface, cookie
        payload += Array(repeating: 0, count: 12)         // expires, rqueue, wqueue
        NetlinkMessages.append32(&payload, 1000)
        NetlinkMessages.append32(&payload, 424242)
        let entry = try #require(NetlinkMessages.inetDiagEntry(payload, ipProtocol: 6))
        #expect(entry.localAddress == ip("127.0.0.1") && entry.localPort == 8080)
        #expect(entry.remoteAddress == ip("127.0.0.2") && entry.remotePort == 54321)
        #expect(entry.uid == 1000 && entry.inode == 424242 && entry.state == 1)
        #expect(NetlinkMessages.inetDiagEntry(Array(payload.prefix(71)), ipProtocol: 6) == nil)
    }

    @Test func splitsMessagesAndStopsAtATruncatedOne() {
        let one = NetlinkMessages.message(type: 20, flags: 2, sequence: 7, payload: [1, 2, 3])
        let two = NetlinkMessages.message(type: 3, flags: 0, sequence: 7, payload: [])
        let padded = one + [0] + two
        let messages = NetlinkMessages.split(padded)
        #expect(messages.map(\.type) == [20, 3])
        #expect(messages.first?.payload == [1, 2, 3])
        #expect(NetlinkMessages.split(Array(padded.prefix(10))).isEmpty)
        var lying = one
        lying[0] = 200  // claims more bytes than there are
        #expect(NetlinkMessages.split(lying).isEmpty)
    }

    @Test func decodesProcessEvents() {
        func event(_ what: UInt32, _ pids: [UInt32], timestamp: UInt64 = 0) -> [UInt8] {
            var payload: [UInt8] = []
            for value in [1, 1, 0, 0] as [UInt32] { NetlinkMessages.append32(&payload, value) }
            NetlinkMessages.append32(&payload, 0)  // len, flags
            NetlinkMessages.append32(&payload, what)
            NetlinkMessages.append32(&payload, 0)  // cpu
            withUnsafeBytes(of: timestamp.littleEndian) { payload += $0 }
            for pid in pids { NetlinkMessages.append32(&payload, pid) }
            return payload
        }
        #expect(NetlinkMessages.processEvent(event(1, [10, 10, 11, 11])) == .fork(parent: 10, child: 11))
        #expect(NetlinkMessages.processEvent(event(1, [10, 10, 12, 10])) == .other, "a new thread is not a process")
        #expect(NetlinkMessages.processEvent(event(2, [11, 11])) == .exec(pid: 11))
        #expect(NetlinkMessages.processEvent(event(0x8000_0000, [11, 11, 0, 0], timestamp: 0x1_2345_6789)) == .exit(pid: 11, monotonicTime: 0x1_2345_6789))
        #expect(NetlinkMessages.processEvent(event(2, [])) == nil)
        #expect(NetlinkMessages.processEvent([1, 2, 3]) == nil)
    }
}
