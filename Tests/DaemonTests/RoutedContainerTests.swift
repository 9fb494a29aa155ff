import Capture
import Foundation
import Testing
import TestSupport

/// A container as Docker makes one: its own network namespace behind a veth on a bridge of this
/// machine, routed and masqueraded out of another interface to a test host at 198.18.213.2.
struct ContainerLab {
    static let container = "tt-ctr-ns", internet = "tt-inet-ns"
    static let bridge = "tt-ctr-br", containerLink = "tt-ctr-h", internetLink = "tt-inet-h"
    static let server = "198.18.213.2"

    init() throws {
        ContainerLab.remove()
        let c = ContainerLab.container, i = ContainerLab.internet
        for command in [
            ["ip", "netns", "add", c], ["ip", "netns", "add", i],
            ["ip", "link", "add", ContainerLab.bridge, "type", "bridge"],
            ["ip", "addr", "add", "10.213.0.1/24", "dev", ContainerLab.bridge],
            ["ip", "link", "set", ContainerLab.bridge, "up"],
            ["ip", "link", "add", ContainerLab.containerLink, "type", "veth", "peer", "name", "eth0", "netns", c],
            ["ip", "link", "set", ContainerLab.containerLink, "master", ContainerLab.bridge],
            ["ip", "link", "set", ContainerLab.containerLink, "up"],
            ["ip", "-n", c, "addr", "add", "10.213.0.2/24", "dev", "eth0"],
            ["ip", "-n", c, "link", "set", "eth0", "up"], ["ip", "-n", c, "link", "set", "lo", "up"],
            ["ip", "-n", c, "route", "add", "default", "via", "10.213.0.1"],
            ["ip", "link", "add", ContainerLab.internetLink, "type", "veth", "peer", "name", "eth0", "netns", i],
            ["ip", "addr", "add", "198.18.213.1/24", "dev", ContainerLab.internetLink],
            ["ip", "link", "set", ContainerLab.internetLink, "up"],
            ["ip", "-n", i, "addr", "add", "198.18.213.2/24", "dev", "eth0"],
            ["ip", "-n", i, "link", "set", "eth0", "up"], ["ip", "-n", i, "link", "set", "lo", "up"],
            // Forwarding on the lab's interfaces only, not the machine's.
            ["sysctl", "-qw", "net.ipv4.conf.\(ContainerLab.bridge).forwarding=1"],
            ["sysctl", "-qw", "net.ipv4.conf.\(ContainerLab.internetLink).forwarding=1"],
            ["nft", "add", "table", "ip", "tt-ctr-lab"],
            ["nft", "add", "chain", "ip", "tt-ctr-lab", "post", "{ type nat hook postrouting priority srcnat ; }"],
            ["nft", "add", "rule", "ip", "tt-ctr-lab", "post", "ip", "saddr", "10.213.0.0/24", "oifname", ContainerLab.internetLink, "masquerade"],
        ] {
            let result = try TestProcess.runCombined(command)
            guard result.status == 0 else {
                ContainerLab.remove()
                throw TestProcess.Failure("\(command.joined(separator: " ")): \(result.output)")
            }
        }
        // Wire-sized packets everywhere, so that counts compare with what the programs sent.
        for link in [ContainerLab.bridge, ContainerLab.containerLink, ContainerLab.internetLink] {
            _ = try TestProcess.runCombined(["ethtool", "-K", link, "tso", "off", "gso", "off", "gro", "off"])
        }
        for namespace in [c, i] {
            _ = try TestProcess.runCombined(["ip", "netns", "exec", namespace, "ethtool", "-K", "eth0", "tso", "off", "gso", "off", "gro", "off"])
        }
    }

    static func remove() {
        for command in [
            ["ip", "netns", "del", container], ["ip", "netns", "del", internet], ["ip", "link", "del", bridge],
            ["ip", "link", "del", containerLink], ["ip", "link", "del", internetLink], ["nft", "delete", "table", "ip", "tt-ctr-lab"],
        ] {
            _ = try? TestProcess.runCombined(command)
        }
    }

    /// What crossed the wire to the test host, captured by tcpdump on the test host's own end of its
    /// link (each packet once, after masquerading): the truth the counts are compared with. A TCP
    /// segment sent again (a loss on a busy machine) is on the wire again and counts again.
    struct Wire {
        let process: Process
        let file: String

        init(in dir: String) throws {
            file = dir + "/wire.pcap"
            let log = dir + "/tcpdump.log"
            // -U writes each packet out as it comes: the capture is whole when tcpdump is killed.
            process = try TestProcess.start(
                ["ip", "netns", "exec", ContainerLab.internet, "tcpdump", "-i", "eth0", "-nn", "-U", "-w", file, "tcp port 7100"],
                log: log)
            guard DaemonFixtures.wait(timeout: 10, { TestProcess.contents(log).contains("listening on") }) else {
                kill(process.processIdentifier, SIGKILL)
                throw TestProcess.Failure("tcpdump did not start: \(TestProcess.contents(log))")
            }
        }

        /// IP bytes of the TCP connection each way: (to the test host, from it).
        func tcpBytes() throws -> (toHost: Int, fromHost: Int) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            var toHost = 0, fromHost = 0
            let server: [UInt8] = [198, 18, 213, 2]
            func count(_ frame: UnsafeRawBufferPointer, _: Int, _: Int64) {
                // Ethernet, IPv4: total length at 16, source at 26, destination at 30.
                guard frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00 else { return }
                let length = Int(frame[16]) << 8 | Int(frame[17])
                if Array(frame[30..<34]) == server { toHost += length }
                if Array(frame[26..<30]) == server { fromHost += length }
            }
            let handle = try PcapHandle.openFile(file)
            var result = PcapHandle.ReadResult.packets(0)
            while result != .endOfFile {
                do {
                    result = try handle.dispatch(limit: 0, count)
                } catch {
                    // A record cut by the kill ends the read: everything before it is counted.
                    guard error.kind == .truncated else { throw error }
                    break
                }
            }
            return (toHost, fromHost)
        }
    }

    /// The test host: a TCP server that reads everything then answers `reply` bytes, and a UDP sink.
    static let serverScript = """
        import socket, threading, sys
        reply = int(sys.argv[1])
        def serve(c):
            n = 0
            while True:
                d = c.recv(65536)
                if not d: break
                n += len(d)
            c.sendall(b'r' * reply); c.close()
        def tcp():
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('198.18.213.2', 7100)); s.listen(16)
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
        threading.Thread(target=tcp, daemon=True).start()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('198.18.213.2', 7101))
        while True: u.recvfrom(4096)
        """

    /// The program in the container: sends `upload` bytes over TCP (then reads the answer) and
    /// `datagrams` UDP datagrams of 500 bytes.
    static func clientScript(upload: Int, datagrams: Int) -> String {
        """
        import socket, time
        c = socket.create_connection(('198.18.213.2', 7100))
        data = b'u' * \(upload)
        c.sendall(data); c.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            d = c.recv(65536)
            if not d: break
            got += len(d)
        c.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(\(datagrams)): u.sendto(b'd' * 500, ('198.18.213.2', 7101)); time.sleep(0.001)
        time.sleep(0.2)
        print('received', got)
        """
    }
}

@Suite(.serialized) struct RoutedContainerTests {
    static let upload = 300_000, reply = 60_000, datagrams = 40

    /// Checks the container's flows in a list of flow objects: one TCP and one UDP flow to the test
    /// host, TCP bytes within 10% of what crossed the test host's link (`wire`, IP bytes: payload,
    /// headers and anything sent again) and at least what the programs sent, UDP bytes exact, the
    /// program inside the container named, and no second copy of either flow from the machine's
    /// outside address.
    static func check(_ flows: [[String: Any]], wire: (toHost: Int, fromHost: Int), program: String, context: String) {
        let toServer = flows.filter { $0["remote_addr"] as? String == ContainerLab.server }
        let tcp = toServer.filter { $0["proto"] as? String == "tcp" && $0["remote_port"] as? Int == 7100 }
        let udp = toServer.filter { $0["proto"] as? String == "udp" && $0["remote_port"] as? Int == 7101 }
        #expect(tcp.count == 1, "TCP flows to the test host: \(tcp)\n\(context)")
        #expect(udp.count == 1, "UDP flows to the test host: \(udp)\n\(context)")
        #expect(!toServer.contains { $0["local_addr"] as? String == "198.18.213.1" }, "a masqueraded copy was counted: \(toServer)")
        if let flow = tcp.first {
            #expect(flow["local_addr"] as? String == "10.213.0.2")
            let out = flow["bytes_out"] as? Int ?? 0, inbound = flow["bytes_in"] as? Int ?? 0
            #expect(out >= upload && abs(Double(out - wire.toHost)) <= Double(wire.toHost) * 0.1,
                    "bytes_out \(out) for \(upload) sent, \(wire.toHost) IP bytes on the test host's link")
            #expect(inbound >= reply && abs(Double(inbound - wire.fromHost)) <= Double(wire.fromHost) * 0.1,
                    "bytes_in \(inbound) for \(reply) answered, \(wire.fromHost) IP bytes on the test host's link")
            #expect(KernelEventsTests.exe(flow)?.hasSuffix(program) == true, "process: \(String(describing: flow["process"]))\n\(context)")
        }
        if let flow = udp.first {
            let out = flow["bytes_out"] as? Int ?? 0
            #expect(out == datagrams * 528, "UDP bytes_out \(out)")
            #expect(KernelEventsTests.exe(flow)?.hasSuffix(program) == true, "process: \(String(describing: flow["process"]))")
        }
    }

    static func startServer(in dir: String) throws -> Process {
        let script = dir + "/server.py"
        try ContainerLab.serverScript.write(toFile: script, atomically: true, encoding: .utf8)
        let server = try TestProcess.start(["ip", "netns", "exec", ContainerLab.internet, "python3", script, "\(reply)"], log: dir + "/server.log")
        usleep(300_000)
        return server
    }

    @Test(.enabled(if: KernelEventsTests.eventsLoad, "needs root, nftables and the socket-event programs"))
    func runCountsAContainersRoutedFlowOnceAndNamesTheProgramInside() throws {
        let lab = try ContainerLab()
        _ = lab
        defer { ContainerLab.remove() }
        let dir = try ScratchDirectory.make("ctr-run")
        let server = try Self.startServer(in: dir)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let program = try KernelEventsTests.program("tt-ctr-app", in: dir)
        let wire = try ContainerLab.Wire(in: dir)
        defer { kill(wire.process.processIdentifier, SIGKILL) }
        let result = try TestProcess.runCombined([
            BuiltExecutable.telltale, "run", "--report", dir + "/r.json", "--",
            "ip", "netns", "exec", ContainerLab.container, program, "-c", ContainerLab.clientScript(upload: Self.upload, datagrams: Self.datagrams),
        ])
        #expect(result.output.contains("received \(Self.reply)"), "\(result.output)")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let flows = try #require(report["flows"] as? [[String: Any]])
        Self.check(flows, wire: try wire.tcpBytes(), program: "tt-ctr-app", context: result.output)
    }

    @Test(.enabled(if: KernelEventsTests.eventsLoad, "needs root, nftables and the socket-event programs"))
    func theDaemonCountsAContainersRoutedFlowOnceAndNamesTheProgramInside() throws {
        let lab = try ContainerLab()
        _ = lab
        defer { ContainerLab.remove() }
        let dir = try ScratchDirectory.make("ctr-daemon")
        let server = try Self.startServer(in: dir)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let database = dir + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: ["any"], database: database)
        let log = dir + "/daemon.log"
        let daemon = try DaemonFixtures.startDaemon(config: config, log: log)
        defer { DaemonFixtures.stop(daemon) }
        let program = try KernelEventsTests.program("tt-ctr-daemon-app", in: dir)
        let wire = try ContainerLab.Wire(in: dir)
        defer { kill(wire.process.processIdentifier, SIGKILL) }
        let result = try TestProcess.runCombined([
            "ip", "netns", "exec", ContainerLab.container, program, "-c", ContainerLab.clientScript(upload: Self.upload, datagrams: Self.datagrams),
        ])
        #expect(result.output.contains("received \(Self.reply)"), "\(result.output)")
        // The datagram flow ends by its idle timeout; then the daemon stops and stores everything.
        usleep(1_000_000)
        daemon.terminate()
        daemon.waitUntilExit()
        Self.check(try KernelEventsTests.flows(database), wire: try wire.tcpBytes(), program: "tt-ctr-daemon-app", context: TestProcess.contents(log))
    }
}
