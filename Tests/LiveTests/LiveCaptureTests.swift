import Foundation
import Testing
import TestSupport

/// Two network namespaces joined by a veth pair, built for one test and removed after it.
struct NamespaceLab {
    static let a = "tt-live-a", b = "tt-live-b"
    static let vethA = "tt-live-va", vethB = "tt-live-vb"
    static let addressA = "198.18.10.1", addressB = "198.18.10.2"
    static let address6A = "fd00:18::1", address6B = "fd00:18::2"

    /// Why the lab cannot be built here, or nil when it can.
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "live tests need root (network namespaces and packet capture)" }
        guard let list = try? TestProcess.run(["ip", "netns", "list"]), list.status == 0 else {
            return "`ip netns` is not available"
        }
        for tool in ["ethtool", "ping"] {
            guard let found = try? TestProcess.run(["sh", "-c", "command -v \(tool)"]), found.status == 0 else {
                return "\(tool) is not installed (scripts/setup.sh installs it)"
            }
        }
        guard BuiltExecutable.path("telltale") != nil else { return "the telltale executable is not built next to the tests" }
        return nil
    }()

    static var available: Bool { unavailableReason == nil }

    static func teardown() {
        _ = try? TestProcess.run(["ip", "netns", "del", a])
        _ = try? TestProcess.run(["ip", "netns", "del", b])
    }

    static func setUp() throws {
        teardown()
        let steps: [[String]] = [
            ["ip", "netns", "add", a],
            ["ip", "netns", "add", b],
            ["ip", "link", "add", vethA, "netns", a, "type", "veth", "peer", "name", vethB, "netns", b],
            ["ip", "-n", a, "addr", "add", "\(addressA)/24", "dev", vethA],
            ["ip", "-n", b, "addr", "add", "\(addressB)/24", "dev", vethB],
            ["ip", "-n", a, "addr", "add", "\(address6A)/64", "dev", vethA, "nodad"],
            ["ip", "-n", b, "addr", "add", "\(address6B)/64", "dev", vethB, "nodad"],
            ["ip", "-n", a, "link", "set", "lo", "up"],
            ["ip", "-n", b, "link", "set", "lo", "up"],
            ["ip", "-n", a, "link", "set", vethA, "up"],
            ["ip", "-n", b, "link", "set", vethB, "up"],
            // Wire-sized packets: with offloads on, capture sees super-packets and counts do not match.
            ["ip", "netns", "exec", a, "ethtool", "-K", vethA, "tso", "off", "gso", "off", "gro", "off"],
            ["ip", "netns", "exec", b, "ethtool", "-K", vethB, "tso", "off", "gso", "off", "gro", "off"],
        ]
        for step in steps {
            let result = try TestProcess.run(step)
            if result.status != 0 {
                teardown()
                throw LabError(message: "\(step.joined(separator: " ")): \(result.error)")
            }
        }
    }

    struct LabError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static var python: String { FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3" }
}

/// Real traffic between the namespaces, captured by the built `telltale capture` in namespace a.
@Suite(.serialized, .enabled(if: NamespaceLab.available, "\(NamespaceLab.unavailableReason ?? "")"))
struct LiveCaptureTests {
    static let tcpBytes = 50_000
    static let udpDatagrams = 5, udpPayload = 100, udpReply = 50
    static let udp6Datagrams = 3, udp6Payload = 200

    /// Peers in namespace b: a TCP sink that answers with the byte count, UDP echo servers on IPv4 and IPv6.
    static let serverScript = """
        import socket, threading, sys
        def tcp():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("\(NamespaceLab.addressB)", 8080)); s.listen(1)
            c, _ = s.accept(); total = 0
            while True:
                d = c.recv(65536)
                if not d: break
                total += len(d)
            c.sendall(str(total).encode()); c.close()
        def udp(family, address, port):
            s = socket.socket(family, socket.SOCK_DGRAM); s.bind((address, port))
            while True:
                d, peer = s.recvfrom(65536)
                s.sendto(b"r" * \(udpReply), peer)
        threading.Thread(target=tcp, daemon=True).start()
        threading.Thread(target=udp, args=(socket.AF_INET, "\(NamespaceLab.addressB)", 9999), daemon=True).start()
        threading.Thread(target=udp, args=(socket.AF_INET6, "\(NamespaceLab.address6B)", 9998), daemon=True).start()
        print("ready", flush=True)
        threading.Event().wait(60)
        """

    /// The observed program in namespace a: exactly the bytes the test expects.
    static let clientScript = """
        import socket
        c = socket.create_connection(("\(NamespaceLab.addressB)", 8080))
        c.sendall(b"x" * \(tcpBytes)); c.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            d = c.recv(100)
            if not d: break
            answer += d
        c.close()
        print("tcp", answer.decode(), flush=True)
        for family, address, port, count, size in [(socket.AF_INET, "\(NamespaceLab.addressB)", 9999, \(udpDatagrams), \(udpPayload)),
                                                   (socket.AF_INET6, "\(NamespaceLab.address6B)", 9998, \(udp6Datagrams), \(udp6Payload))]:
            s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(5)
            for i in range(count):
                s.sendto(b"u" * size, (address, port)); s.recvfrom(65536)
            print("udp", port, s.getsockname()[1], flush=True)
        """

    func flows(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
    }

    @Test func capturedFlowsMatchTheTrafficSent() throws {
        try NamespaceLab.setUp()
        defer { NamespaceLab.teardown() }
        let directory = CaptureFixture.makeTemporaryDirectory(prefix: "tt-live")
        defer { CaptureFixture.removeDirectory(directory) }
        try Self.serverScript.write(toFile: directory + "/server.py", atomically: true, encoding: .utf8)
        try Self.clientScript.write(toFile: directory + "/client.py", atomically: true, encoding: .utf8)
        let binary = try #require(BuiltExecutable.path("telltale"))

        let server = try TestProcess.Background(["ip", "netns", "exec", NamespaceLab.b, NamespaceLab.python, directory + "/server.py"], directory: directory, name: "server")
        defer { server.stop() }
        #expect(server.waitFor("ready", seconds: 10), "server did not start: \(server.error)")

        let capture = try TestProcess.Background(
            ["ip", "netns", "exec", NamespaceLab.a, binary, "capture", "-i", NamespaceLab.vethA, "--format", "ndjson", "--duration", "8"],
            directory: directory, name: "capture")
        defer { capture.stop() }
        try #require(capture.waitFor("capturing on", seconds: 10), "capture did not start: \(capture.error)")

        let ping = try TestProcess.run(["ip", "netns", "exec", NamespaceLab.a, "ping", "-c", "3", "-i", "0.2", "-s", "56", NamespaceLab.addressB])
        #expect(ping.status == 0, "\(ping.error)")
        let client = try TestProcess.run(["ip", "netns", "exec", NamespaceLab.a, NamespaceLab.python, directory + "/client.py"])
        #expect(client.status == 0, "\(client.error)")
        #expect(client.output.contains("tcp \(Self.tcpBytes)"))
        let clientPorts = client.output.split(separator: "\n").filter { $0.hasPrefix("udp ") }.compactMap { Int($0.split(separator: " ").last ?? "") }
        try #require(clientPorts.count == 2, "client said: \(client.output)")

        #expect(capture.waitForExit(seconds: 20), "capture did not stop after its duration")
        #expect(capture.process.terminationStatus == 0, "\(capture.error)")
        let all = try flows(capture.output)

        // TCP: the client's 50,000 bytes out, SF, outbound from a to b.
        let tcp = try #require(all.first { $0["proto"] as? String == "tcp" && $0["remote_port"] as? Int == 8080 }, "no TCP flow in \(capture.output)")
        #expect(tcp["local_addr"] as? String == NamespaceLab.addressA)
        #expect(tcp["remote_addr"] as? String == NamespaceLab.addressB)
        #expect(tcp["direction"] as? String == "outbound")
        #expect(tcp["conn_state"] as? String == "SF")
        #expect(tcp["ip_version"] as? Int == 4)
        let tcpOut = try #require(tcp["bytes_out"] as? Int), tcpPacketsOut = try #require(tcp["packets_out"] as? Int)
        let tcpIn = try #require(tcp["bytes_in"] as? Int), tcpPacketsIn = try #require(tcp["packets_in"] as? Int)
        // Payload plus 40 to 60 header bytes (IP + TCP with options) per packet; no segment above the MTU.
        #expect(tcpOut >= Self.tcpBytes + 40 * tcpPacketsOut && tcpOut <= Self.tcpBytes + 60 * tcpPacketsOut)
        #expect(tcpPacketsOut >= Self.tcpBytes / 1500)
        let answer = String(Self.tcpBytes).utf8.count
        #expect(tcpIn >= answer + 40 * tcpPacketsIn && tcpIn <= answer + 60 * tcpPacketsIn)

        // UDP over IPv4: every datagram and its echo, payload + 28 bytes each.
        let udp = try #require(all.first { $0["proto"] as? String == "udp" && $0["remote_port"] as? Int == 9999 })
        #expect(udp["local_port"] as? Int == clientPorts[0])
        #expect(udp["direction"] as? String == "outbound")
        #expect(udp["packets_out"] as? Int == Self.udpDatagrams && udp["packets_in"] as? Int == Self.udpDatagrams)
        #expect(udp["bytes_out"] as? Int == Self.udpDatagrams * (Self.udpPayload + 28))
        #expect(udp["bytes_in"] as? Int == Self.udpDatagrams * (Self.udpReply + 28))

        // UDP over IPv6: payload + 48 bytes each.
        let udp6 = try #require(all.first { $0["proto"] as? String == "udp" && $0["remote_port"] as? Int == 9998 })
        #expect(udp6["ip_version"] as? Int == 6)
        #expect(udp6["local_addr"] as? String == NamespaceLab.address6A)
        #expect(udp6["remote_addr"] as? String == NamespaceLab.address6B)
        #expect(udp6["local_port"] as? Int == clientPorts[1])
        #expect(udp6["packets_out"] as? Int == Self.udp6Datagrams && udp6["packets_in"] as? Int == Self.udp6Datagrams)
        #expect(udp6["bytes_out"] as? Int == Self.udp6Datagrams * (Self.udp6Payload + 48))
        #expect(udp6["bytes_in"] as? Int == Self.udp6Datagrams * (Self.udpReply + 48))

        // ICMP: three echo requests and three replies of 56 + 8 + 20 bytes, in one flow.
        let icmp = try #require(all.first { $0["proto"] as? String == "icmp" && $0["local_port"] as? Int == 8 })
        #expect(icmp["direction"] as? String == "outbound")
        #expect(icmp["remote_addr"] as? String == NamespaceLab.addressB)
        #expect(icmp["packets_out"] as? Int == 3 && icmp["packets_in"] as? Int == 3)
        #expect(icmp["bytes_out"] as? Int == 3 * 84 && icmp["bytes_in"] as? Int == 3 * 84)
    }

    @Test func sigintStopsAnIdleCapturePromptlyAndItStillPrintsItsFlows() throws {
        try NamespaceLab.setUp()
        defer { NamespaceLab.teardown() }
        let directory = CaptureFixture.makeTemporaryDirectory(prefix: "tt-live")
        defer { CaptureFixture.removeDirectory(directory) }
        let binary = try #require(BuiltExecutable.path("telltale"))
        for round in 0..<3 {
            let capture = try TestProcess.Background(
                ["ip", "netns", "exec", NamespaceLab.a, binary, "capture", "-i", NamespaceLab.vethA, "--format", "ndjson"],
                directory: directory, name: "capture\(round)")
            defer { capture.stop() }
            try #require(capture.waitFor("capturing on", seconds: 10), "capture did not start: \(capture.error)")
            let ping = try TestProcess.run(["ip", "netns", "exec", NamespaceLab.a, "ping", "-c", "1", NamespaceLab.addressB])
            #expect(ping.status == 0)
            // Let the link fall idle, then interrupt.
            Thread.sleep(forTimeInterval: 0.5)
            kill(capture.process.processIdentifier, SIGINT)
            #expect(capture.waitForExit(seconds: 2), "still running 2 s after SIGINT")
            #expect(capture.process.terminationStatus == 0)
            let all = try flows(capture.output)
            #expect(all.contains { $0["proto"] as? String == "icmp" && $0["packets_out"] as? Int == 1 && $0["packets_in"] as? Int == 1 },
                    "no ping flow in: \(capture.output)")
        }
    }
}
