import Foundation
import Testing
import TestSupport

/// Attribution from the kernel's socket events, tried as a user would: real short-lived programs,
/// a frame written through a packet socket, both ends of a loopback connection, all under the daemon;
/// and polling when the events cannot load.
@Suite(.serialized) struct KernelEventsTests {
    /// Whether the socket-event programs load here (root with CAP_BPF and CAP_PERFMON, a kernel that allows them).
    static let eventsLoad: Bool = {
        guard DaemonFixtures.isRoot else { return false }
        let probe = try? TestProcess.runCombined([BuiltExecutable.telltale, "capture", "-i", "lo", "--duration", "0.2", "--format", "ndjson"])
        return probe?.output.contains("attribution: kernel-events") == true
    }()

    /// A copy of the Python interpreter under a name of its own, so the right executable is unmistakable.
    static func program(_ name: String, in directory: String) throws -> String {
        let python = try TestProcess.runCombined(["python3", "-c", "import os,sys;print(os.path.realpath(sys.executable))"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let path = directory + "/" + name
        try FileManager.default.copyItem(atPath: python, toPath: path)
        return path
    }

    static func flows(_ database: String) throws -> [[String: Any]] {
        try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func exe(_ flow: [String: Any], _ key: String = "process") -> String? {
        (flow[key] as? [String: Any])?["exe"] as? String
    }

    @Test(.enabled(if: KernelEventsTests.eventsLoad, "needs root and a kernel that loads the socket-event programs"))
    func shortLivedProgramsRawFramesAndBothLoopbackEndsAreAttributed() throws {
        let host = try TestHost(tag: "ke", subnet: 82)
        defer { host.remove() }
        _ = try TestProcess.runCombined(["ethtool", "-K", host.link, "tso", "off", "gso", "off", "gro", "off"])
        let dir = try ScratchDirectory.make("kevents")
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // The test host: a TCP server answering each request, a UDP echo.
        let server = BuiltExecutable.packageRoot.appendingPathComponent("scripts/lab/echo-host.py").path
        helpers.append(try TestProcess.start(["ip", "netns", "exec", host.namespace, "python3", server, "198.18.82.2"], log: dir + "/host.log"))
        // A local service on loopback, under a name of its own.
        let runtime = try Self.program("tt-local-runtime", in: dir)
        let service = dir + "/service.py"
        try """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 18940)); s.listen(16)
            while True:
                c, _ = s.accept(); c.recv(100); c.sendall(b'r' * 64); c.close()
            """.write(toFile: service, atomically: true, encoding: .utf8)
        helpers.append(try TestProcess.start([runtime, service], log: dir + "/service.log"))

        let database = dir + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: ["any"], database: database)
        let log = dir + "/daemon.log"
        let daemon = try DaemonFixtures.startDaemon(config: config, log: log)
        defer { DaemonFixtures.stop(daemon) }
        #expect(TestProcess.contents(log).contains("attribution=kernel-events") || TestProcess.contents(log).contains("kernel-events"))

        // Thirty programs that each live a few milliseconds: one TCP exchange and one UDP exchange.
        let client = try Self.program("tt-short-lived", in: dir)
        let clientScript = """
            import socket
            c = socket.create_connection(('198.18.82.2', 7000)); c.sendall(b'q' * 100); c.recv(300); c.close()
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1); u.sendto(b'u' * 100, ('198.18.82.2', 7001)); u.recvfrom(300)
            """
        for _ in 0..<30 {
            let result = try TestProcess.runCombined([client, "-c", clientScript])
            #expect(result.status == 0, "\(result.output)")
        }
        // Two programs, one right after the other, on the same UDP port: the second one's datagram
        // comes before the first one's flow could have ended by time, and is a flow of its own.
        let portScript = """
            import socket
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 47010)); u.settimeout(1)
            u.sendto(b'p' * 100, ('198.18.82.2', 7001)); u.recvfrom(300)
            """
        let firstOnPort = try Self.program("tt-port-first", in: dir), secondOnPort = try Self.program("tt-port-second", in: dir)
        for program in [firstOnPort, secondOnPort] {
            let result = try TestProcess.runCombined([program, "-c", portScript])
            #expect(result.status == 0, "\(result.output)")
        }
        // A program that had the port the frame below uses, and is gone: it must not be named for the frame.
        let holder = try Self.program("tt-port-holder", in: dir)
        let held = try TestProcess.runCombined([holder, "-c", "import socket\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 47001)); u.sendto(b'h', ('198.18.82.2', 7778))"])
        #expect(held.status == 0, "\(held.output)")
        usleep(300_000)
        // One frame written whole through a packet socket: a UDP datagram no IP socket sent.
        let injector = try Self.program("tt-injector", in: dir)
        let inject = """
            import socket, struct, sys
            def csum(b):
                if len(b) % 2: b += b'\\0'
                s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
                return ~s & 0xffff
            src, dst = socket.inet_aton('198.18.82.1'), socket.inet_aton('198.18.82.2')
            payload = b'i' * 32
            udp = struct.pack('!HHHH', 47001, 7777, 8 + len(payload), 0) + payload
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
            ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
            mac = open('/sys/class/net/%s/address' % sys.argv[1]).read().strip()
            eth = b'\\xff' * 6 + bytes.fromhex(mac.replace(':', '')) + b'\\x08\\x00'
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.send(eth + ip + udp)
            """
        let injected = try TestProcess.runCombined([injector, "-c", inject, host.link])
        #expect(injected.status == 0, "\(injected.output)")
        // Both ends on this machine: a client program talks to the local service over loopback.
        let ui = try Self.program("tt-local-ui", in: dir)
        let uiRun = try TestProcess.runCombined([ui, "-c", "import socket\nc = socket.create_connection(('127.0.0.1', 18940)); c.sendall(b'hello'); c.recv(100); c.close()"])
        #expect(uiRun.status == 0, "\(uiRun.output)")

        // ping: a raw ICMP socket here (or a ping socket where the group range allows one).
        let ping = try TestProcess.runCombined(["ping", "-c", "1", "-W", "2", "198.18.82.2"])
        #expect(ping.status == 0, "\(ping.output)")

        usleep(1_500_000)
        daemon.terminate()
        daemon.waitUntilExit()
        let flows = try Self.flows(database)

        let clientPath = URL(fileURLWithPath: client).resolvingSymlinksInPath().path
        let toHost = flows.filter {
            $0["remote_addr"] as? String == "198.18.82.2" && [7000, 7001].contains($0["remote_port"] as? Int ?? 0) && $0["local_port"] as? Int != 47010
        }
        #expect(toHost.count == 60, "expected 60 flows of the short-lived programs, got \(toHost.count)")
        let right = toHost.filter { Self.exe($0) == clientPath && $0["attribution_source"] as? String == "kernel-events" }
        #expect(right.count == toHost.count, "not attributed to \(clientPath): \(toHost.filter { Self.exe($0) != clientPath })")
        // The bytes are the wire's: 100 bytes of payload and 28 of headers per UDP datagram.
        for flow in toHost where flow["proto"] as? String == "udp" {
            #expect(flow["bytes_out"] as? Int == 128 && flow["bytes_in"] as? Int == 128, "\(flow)")
        }

        let onPort = flows.filter { $0["remote_port"] as? Int == 7001 && $0["local_port"] as? Int == 47010 }
            .sorted { ($0["start"] as? String ?? "") < ($1["start"] as? String ?? "") }
        #expect(onPort.map { Self.exe($0) } == [firstOnPort, secondOnPort].map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }, "\(onPort)")
        for flow in onPort {
            #expect(flow["bytes_out"] as? Int == 128 && flow["bytes_in"] as? Int == 128, "\(flow)")
        }

        let frame = flows.first { $0["remote_port"] as? Int == 7777 && $0["local_port"] as? Int == 47001 }
        #expect(frame.map { Self.exe($0) } == URL(fileURLWithPath: injector).resolvingSymlinksInPath().path, "\(String(describing: frame))")

        // The echo request (type 8; the holder's datagram also drew a port-unreachable, the kernel's).
        let echo = flows.first { $0["proto"] as? String == "icmp" && $0["remote_addr"] as? String == "198.18.82.2" && $0["local_port"] as? Int == 8 }
        let pingPath = URL(fileURLWithPath: "/usr/bin/ping").resolvingSymlinksInPath().path
        #expect(echo.map { Self.exe($0) } == pingPath, "the echo is not ping's: \(String(describing: echo))")

        let loopback = flows.first { $0["remote_port"] as? Int == 18940 && $0["proto"] as? String == "tcp" }
        #expect(loopback.map { Self.exe($0) } == URL(fileURLWithPath: ui).resolvingSymlinksInPath().path, "\(String(describing: loopback))")
        #expect(loopback.map { Self.exe($0, "peer_process") } == URL(fileURLWithPath: runtime).resolvingSymlinksInPath().path,
                "the loopback flow does not name its server: \(String(describing: loopback))")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: capture and the kernel's socket events"))
    func aRefusedConnectionBelongsToTheProgramThatTriedIt() throws {
        let dir = try ScratchDirectory.make("refused")
        let prober = try Self.program("tt-prober", in: dir)
        // Three attempts on a port nobody listens on; the program lives on after them.
        let script = "import socket, time\nfor i in range(3):\n    s = socket.socket()\n    try: s.connect(('127.0.0.1', 18977))\n    except OSError: pass\n    s.close(); time.sleep(0.2)\ntime.sleep(1.5)\n"
        let output = dir + "/capture.ndjson"
        let capture = try TestProcess.start(
            ["sh", "-c", "\(BuiltExecutable.telltale) capture -i lo --duration 4 --format ndjson > \(output)"], log: dir + "/capture.log")
        #expect(DaemonFixtures.wait(timeout: 5) { TestProcess.contents(dir + "/capture.log").contains("capturing") || FileManager.default.fileExists(atPath: output) })
        usleep(800_000)
        let probed = try TestProcess.runCombined([prober, "-c", script])
        #expect(probed.status == 0, "\(probed.output)")
        capture.waitUntilExit()
        let flows = (try String(contentsOfFile: output, encoding: .utf8)).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["remote_port"] as? Int == 18977 }
        #expect(flows.count == 3, "\(flows)")
        for flow in flows {
            #expect(flow["conn_state"] as? String == "REJ", "\(flow)")
            #expect(Self.exe(flow) == URL(fileURLWithPath: prober).resolvingSymlinksInPath().path, "\(flow)")
            #expect(flow["attribution_source"] as? String == "kernel-events", "\(flow)")
        }
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: capture"))
    func withoutTheEventsPollingAttributesAndSaysSo() throws {
        let dir = try ScratchDirectory.make("polling")
        let sender = try Self.program("tt-slow-sender", in: dir)
        // A socket that stays open long enough for any lookup.
        let script = "import socket, time\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))\nfor i in range(6):\n    u.sendto(b'p' * 20, ('127.0.0.1', 18950)); time.sleep(0.3)\n"
        let output = dir + "/capture.ndjson"
        let capture = try TestProcess.start(
            ["sh", "-c", "\(BuiltExecutable.telltale) capture -i lo --no-kernel-events --duration 4 --format ndjson > \(output)"],
            log: dir + "/capture.log")
        usleep(800_000)
        let sent = try TestProcess.runCombined([sender, "-c", script])
        #expect(sent.status == 0, "\(sent.output)")
        capture.waitUntilExit()
        let flows = (try String(contentsOfFile: output, encoding: .utf8)).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let flow = try #require(flows.first { $0["remote_port"] as? Int == 18950 }, "\(TestProcess.contents(dir + "/capture.log"))")
        #expect(Self.exe(flow) == URL(fileURLWithPath: sender).resolvingSymlinksInPath().path, "\(flow)")
        #expect(flow["attribution_source"] as? String == "polling")
        #expect(TestProcess.contents(dir + "/capture.log").contains("attribution: polling"))
    }

    @Test(.enabled(if: DaemonFixtures.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv"))
    func withoutTheCapabilitiesOneLineSaysWhyAndCaptureGoesOn() throws {
        let dropped = "-bpf,-perfmon,-sys_admin"
        let result = try TestProcess.runCombined([
            "setpriv", "--inh-caps", dropped, "--bounding-set", dropped, "--",
            BuiltExecutable.telltale, "capture", "-i", "lo", "--duration", "0.5", "--format", "ndjson",
        ])
        #expect(result.status == 0, "\(result.output)")
        let reasons = result.output.split(separator: "\n").filter { $0.contains("kernel socket events unavailable") }
        #expect(reasons.count == 1, "\(result.output)")
        #expect(reasons.first?.contains("polling") == true)
        #expect(result.output.contains("attribution: polling"), "\(result.output)")
    }
}
