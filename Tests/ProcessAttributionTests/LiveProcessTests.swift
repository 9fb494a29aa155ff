import TestSupport
import Foundation
import Glibc
import Logging
import PacketParsing
import Posix
import Testing
@testable import ProcessAttribution

let isRoot = getuid() == 0

/// A real program started for a test, which prints one line of facts ("READY …") once its sockets are set up.
final class Spawned {
    let process = Process()
    private let output = Pipe()
    private(set) var ready: [String] = []

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits for the READY line and returns its words after "READY".
    func waitReady(timeout: TimeInterval = 10) throws -> [String] {
        var buffer = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            // Only complete lines: a pipe may hand over "READY" before the rest of its line.
            guard let text = String(data: buffer, encoding: .utf8), let end = text.lastIndex(of: "\n") else { continue }
            if let line = text[..<end].split(separator: "\n").first(where: { $0.hasPrefix("READY") }) {
                ready = line.split(separator: " ").dropFirst().map(String.init)
                return ready
            }
        }
        throw CocoaError(.fileReadUnknown)
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

func python(_ script: String, _ arguments: [String] = []) throws -> Spawned {
    try Spawned("/usr/bin/python3", ["-c", script] + arguments)
}

func exeOf(_ pid: Int32) -> String? { ProcFileSystem.readLink(atPath: "/proc/\(pid)/exe") }

func run(_ command: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

func liveAttributor(_ configure: (inout Attributor.Options) -> Void = { _ in }) throws -> Attributor {
    var options = Attributor.Options()
    configure(&options)
    let attributor = Attributor(logger: Logger(label: "test"), options: options)
    try attributor.start()
    return attributor
}

let tcpServer = """
import socket, sys, time
family = socket.AF_INET6 if sys.argv[1] == '6' else socket.AF_INET
host = '::1' if sys.argv[1] == '6' else '127.0.0.1'
s = socket.socket(family, socket.SOCK_STREAM); s.bind((host, 0)); s.listen()
print('READY', s.getsockname()[1], flush=True)
c, peer = s.accept()
c.sendall(b'k')
time.sleep(60)
"""

let tcpClient = """
import socket, sys, time
family = socket.AF_INET6 if sys.argv[1] == '6' else socket.AF_INET
host = '::1' if sys.argv[1] == '6' else '127.0.0.1'
c = socket.socket(family, socket.SOCK_STREAM); c.connect((host, int(sys.argv[2])))
# Ready once the server has accepted: until then its end is in the listen queue, owned by no process.
c.recv(1)
print('READY', c.getsockname()[1], flush=True)
time.sleep(60)
"""

let udpScript = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
if sys.argv[1] == 'connected':
    s.connect(('127.0.0.1', 9)); s.send(b'x')
else:
    s.sendto(b'x', ('127.0.0.1', 9))
print('READY', s.getsockname()[1], flush=True)
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 60)
"""

@Suite(.serialized, .enabled(if: isRoot, "needs root: reads every process's fds, netlink process events and namespaces"))
struct LiveProcessTests {
    @Test func attributesATCPClientAndServerOverIPv4AndIPv6() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        #expect(attributor.usesProcessEvents)
        for version in ["4", "6"] {
            let server = try python(tcpServer, [version])
            defer { server.stop() }
            let serverPort = try #require(UInt16(try server.waitReady().first ?? ""))
            let client = try python(tcpClient, [version, String(serverPort)])
            defer { client.stop() }
            let clientPort = try #require(UInt16(try client.waitReady().first ?? ""))
            let loopback = ip(version == "6" ? "::1" : "127.0.0.1")
            let fromClient = attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: loopback, localPort: clientPort, remoteAddress: loopback, remotePort: serverPort), at: SystemClock.wallNanoseconds())
            #expect(fromClient.identity?.pid == client.pid)
            #expect(fromClient.identity?.exe == exeOf(client.pid))
            #expect(fromClient.identity?.arguments.last == String(serverPort))
            #expect(fromClient.identity.map { attributor.withExeHash($0) }?.sha256?.count == 64)
            let fromServer = attributor.attribute(SocketQuery(ipProtocol: 6, localAddress: loopback, localPort: serverPort, remoteAddress: loopback, remotePort: clientPort), at: SystemClock.wallNanoseconds())
            #expect(fromServer.identity?.pid == server.pid)
            #expect(fromServer.identity?.exe == exeOf(server.pid))
        }
    }

    @Test func attributesConnectedAndUnconnectedUDP() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        for mode in ["connected", "unconnected"] {
            let sender = try python(udpScript, [mode])
            defer { sender.stop() }
            let port = try #require(UInt16(try sender.waitReady().first ?? ""))
            let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: port, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds())
            #expect(answer.identity?.pid == sender.pid, "\(mode)")
            #expect(answer.identity?.exe == exeOf(sender.pid), "\(mode)")
            // The same socket seen through an IPv4-mapped query still matches.
            let mapped = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("::ffff:127.0.0.1"), localPort: port, remoteAddress: ip("::ffff:127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds())
            #expect(mapped.identity?.pid == sender.pid, "\(mode) mapped")
        }
    }

    @Test func attributesPingThroughItsICMPSocket() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        let ping = try Spawned("/bin/sh", ["-c", "echo READY; exec ping -q -c 5 -i 0.5 127.0.0.1"])
        defer { ping.stop() }
        _ = try ping.waitReady()
        var answer: Attribution = .unattributed(.noSocket)
        for _ in 0..<50 {
            // Whatever identifier ping picked, its ping socket or raw socket owns the echo flow.
            answer = attributor.attribute(SocketQuery(ipProtocol: 1, localAddress: ip("127.0.0.1"), localPort: 0, remoteAddress: ip("127.0.0.1"), remotePort: 0), at: SystemClock.wallNanoseconds())
            if answer.identity?.pid == ping.pid, answer.identity?.exe?.hasSuffix("ping") == true { break }
            usleep(20_000)
        }
        #expect(answer.identity?.pid == ping.pid)
        #expect(answer.identity?.exe == "/usr/bin/ping")
    }

    @Test func aProcessThatExitsRightAfterSendingKeepsItsIdentity() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        let sender = try python(udpScript, ["connected", "0.05"])
        let port = try #require(UInt16(try sender.waitReady().first ?? ""))
        let pid = sender.pid
        let exe = exeOf(pid)
        let query = SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: port, remoteAddress: ip("127.0.0.1"), remotePort: 9)
        // The flow starts: the worker looks it up at once, while the sender still lives.
        let first = attributor.attribute(query, at: SystemClock.wallNanoseconds())
        #expect(first.identity?.pid == pid)
        sender.process.waitUntilExit()
        usleep(100_000)
        // The last packets of the flow, after the process is gone: the sticky cache answers.
        let after = attributor.attribute(query, at: SystemClock.wallNanoseconds())
        #expect(after.identity?.pid == pid)
        #expect(after.identity?.exe == exe)
        // The connector-captured identity outlives the process.
        let kept = try #require(attributor.identity(pid: pid, startTime: first.identity?.startTime ?? 0))
        #expect(kept.exe == exe)

        // A sender that is gone before anyone asks is never credited to another process.
        let instant = try python(udpScript, ["connected", "0"])
        let instantPort = try #require(UInt16(try instant.waitReady().first ?? ""))
        instant.process.waitUntilExit()
        let late = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: instantPort, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds() - 50_000_000)
        #expect(late == .unattributed(.processExited) || late == .unattributed(.noSocket) || late.identity?.pid == instant.pid, "\(late)")
    }

    @Test func showsTheShellAndWrapperThatStartedAProcess() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        let ownExe = exeOf(getpid())
        for (launcher, parentName) in [("/bin/sh", "sh"), ("/usr/bin/timeout", "timeout")] {
            let arguments = launcher == "/bin/sh"
                ? ["-c", "/usr/bin/python3 -c \"$0\" unconnected; true", udpScript]
                : ["60", "/usr/bin/python3", "-c", udpScript, "unconnected"]
            let spawned = try Spawned(launcher, arguments)
            defer { _ = run("pkill -9 -P \(spawned.pid)"); spawned.stop() }
            let port = try #require(UInt16(try spawned.waitReady().first ?? ""))
            let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: port, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds())
            let children = (try? String(contentsOfFile: "/proc/\(spawned.pid)/task/\(spawned.pid)/children", encoding: .utf8)) ?? "?"
            let identity = try #require(answer.identity, "\(parentName): \(answer) \(attributor.statistics) children=\(children) known=\(String(describing: Int32(children.trimmingCharacters(in: .whitespaces)).flatMap { attributor.identity(pid: $0) }))")
            #expect(identity.ppid == spawned.pid, "the python child of \(parentName)")
            #expect(identity.exe == "/usr/bin/python3.11")
            #expect(identity.parentExe == exeOf(spawned.pid), "\(parentName)")
            #expect(identity.parentCmdline?.contains(parentName == "sh" ? "-c" : "timeout 60") == true)
            #expect(identity.grandparentExe == ownExe, "\(parentName)'s parent is this test runner")
        }
    }

    @Test func aReusedPidIsNotConfusedWithTheProcessThatHadItBefore() throws {
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        let first = try python(udpScript, ["unconnected"])
        let firstPort = try #require(UInt16(try first.waitReady().first ?? ""))
        let firstAnswer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: firstPort, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds())
        let old = try #require(firstAnswer.identity)
        first.stop()
        // Hand the same pid to a new program (ns_last_pid is the last pid given out).
        var second: Spawned?
        for _ in 0..<20 {
            guard (try? "\(old.pid - 1)".write(toFile: "/proc/sys/kernel/ns_last_pid", atomically: false, encoding: .utf8)) != nil else { break }
            let candidate = try python(udpScript + "\n# second", ["unconnected"])
            if candidate.pid == old.pid { second = candidate; break }
            candidate.stop()
        }
        guard let second else {
            print("skipped: could not get pid \(old.pid) again (other processes took it)")
            return
        }
        defer { second.stop() }
        let port = try #require(UInt16(try second.waitReady().first ?? ""))
        let answer = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: port, remoteAddress: ip("127.0.0.1"), remotePort: 9), at: SystemClock.wallNanoseconds())
        #expect(answer.identity?.pid == old.pid)
        #expect(answer.identity?.startTime != old.startTime)
        #expect(answer.identity?.arguments.contains { $0.hasSuffix("# second") } == true)
        let stale = attributor.attribute(SocketQuery(ipProtocol: 17, localAddress: ip("127.0.0.1"), localPort: firstPort, remoteAddress: ip("127.0.0.1"), remotePort: 8), at: SystemClock.wallNanoseconds())
        #expect(stale.identity?.startTime != answer.identity?.startTime, "the new process is not given the old flow")
    }

    @Test func trafficOfAProcessInAnotherNetworkNamespaceIsOtherNetns() throws {
        let ns = "tt-attr-x"
        _ = run("ip netns del \(ns) 2>/dev/null; ip link del tt-attr-v0 2>/dev/null")
        #expect(run("ip netns add \(ns)") == 0)
        defer { _ = run("ip netns pids \(ns) | xargs -r kill -9; ip netns del \(ns); ip link del tt-attr-v0") }
        #expect(run("ip link add tt-attr-v0 type veth peer name tt-attr-v1 netns \(ns) && ip addr add 198.18.77.1/30 dev tt-attr-v0 && ip link set tt-attr-v0 up && ip -n \(ns) addr add 198.18.77.2/30 dev tt-attr-v1 && ip -n \(ns) link set tt-attr-v1 up && ip -n \(ns) link set lo up") == 0)
        let attributor = try liveAttributor()
        defer { attributor.stop() }
        let script = """
        import socket, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('198.18.77.2', 0)); s.connect(('198.18.77.1', 9)); s.send(b'x')
        print('READY', s.getsockname()[1], flush=True)
        time.sleep(60)
        """
        let inside = try Spawned("/usr/sbin/ip", ["netns", "exec", ns, "/usr/bin/python3", "-c", script])
        defer { inside.stop() }
        let port = try #require(UInt16(try inside.waitReady().first ?? ""))
        // Seen from this namespace's capture: our end 198.18.77.1:9, the namespace's end the peer.
        let query = SocketQuery(ipProtocol: 17, localAddress: ip("198.18.77.1"), localPort: 9, remoteAddress: ip("198.18.77.2"), remotePort: port)
        #expect(attributor.attribute(query, at: SystemClock.wallNanoseconds()) == .unattributed(.otherNetns))

        let naming = try liveAttributor { $0.attributeOtherNamespaces = true }
        defer { naming.stop() }
        let named = naming.attribute(query, at: SystemClock.wallNanoseconds())
        #expect(named.identity?.pid == inside.pid)
        #expect(named.identity?.exe == "/usr/bin/python3.11")
        #expect(named.identity?.netns != nil && named.identity?.netns != attributor.identity(pid: getpid())?.netns)
    }
}
