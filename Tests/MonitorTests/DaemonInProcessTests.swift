import Capture
import FlowStore
import Flows
import Foundation
import Logging
import Monitor
import PacketParsing
import Posix
import Reporting
import Synchronization
import Testing
import TestSupport

/// The daemon's whole loop in this process, without root or an interface: frames from a capture
/// file, sockets owned by processes of a /proc tree written here, flows into a real SQLite file.
@Suite struct DaemonInProcessTests {
    static let local = ip("192.0.2.10")
    static let remote = ip("198.18.0.5")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A /proc tree with a llama-server (pid 4242: a model runtime by the default rules) holding the
    /// TCP socket 40000 → 198.18.0.5:80; the caller removes it.
    func processTable() throws -> FakeProc {
        let fake = try FakeProc()
        do {
            try writeProcesses(fake)
        } catch {
            fake.remove()
            throw error
        }
        return fake
    }

    private func writeProcesses(_ fake: FakeProc) throws {
        try fake.write("passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
        try fake.link("self", to: "1")
        try fake.process(pid: 1, ppid: 0, comm: "init", startTime: 1, uid: 0, arguments: ["/sbin/init"], exe: "/sbin/init")
        try fake.process(
            pid: 4242, ppid: 1, comm: "llama-server", startTime: 900, arguments: ["llama-server", "-m", "tiny.gguf"],
            exe: "/usr/local/bin/llama-server",
            sockets: [7001])
        try fake.write(
            "net/tcp", tcpHeader + "\n" + procLine(0, local: Self.local, 40000, remote: Self.remote, 80, state: 1, inode: 7001) + "\n")
        for table in ["net/tcp6", "net/udp", "net/udp6"] { try fake.write(table, (table.hasPrefix("net/tcp") ? tcpHeader : udpHeader) + "\n") }
    }

    /// An HTTP exchange from the runtime's socket to 198.18.0.5 (Host: uploads.example), and a UDP
    /// datagram from a port no process holds.
    func frames() -> [[UInt8]] {
        let out = FrameBuilder.IPHeader.v4(from: Self.local, to: Self.remote)
        let back = FrameBuilder.IPHeader.v4(from: Self.remote, to: Self.local)
        let request = Array("POST /collect HTTP/1.1\r\nHost: uploads.example\r\nContent-Length: 5\r\n\r\nhello".utf8)
        let response = Array("HTTP/1.1 204 No Content\r\n\r\n".utf8)
        func tcp(_ ip: FrameBuilder.IPHeader, _ from: UInt16, _ to: UInt16, _ flags: FrameBuilder.TCPFlags, _ payload: [UInt8] = [],
                 seq: UInt32, ack: UInt32) -> [UInt8] {
            FrameBuilder.frame(
                ip: ip, transport: .tcp(sourcePort: from, destinationPort: to, flags: flags, payload: payload, sequence: seq, acknowledgment: ack))
        }
        return [
            tcp(out, 40000, 80, .syn, seq: 100, ack: 0),
            tcp(back, 80, 40000, [.syn, .ack], seq: 500, ack: 101),
            tcp(out, 40000, 80, .ack, seq: 101, ack: 501),
            tcp(out, 40000, 80, .pshAck, request, seq: 101, ack: 501),
            tcp(back, 80, 40000, .pshAck, response, seq: 501, ack: UInt32(101 + request.count)),
            tcp(out, 40000, 80, [.fin, .ack], seq: UInt32(101 + request.count), ack: UInt32(501 + response.count)),
            tcp(back, 80, 40000, [.fin, .ack], seq: UInt32(501 + response.count), ack: UInt32(102 + request.count)),
            tcp(out, 40000, 80, .ack, seq: UInt32(102 + request.count), ack: UInt32(502 + response.count)),
            FrameBuilder.frame(
                ip: .v4(from: Self.local, to: ip("198.18.0.6")), transport: .udp(sourcePort: 41000, destinationPort: 9999, payload: [1, 2, 3])),
        ]
    }

    /// `frames()` as a capture file in `directory`; returns its path.
    func captureFile(in directory: String) throws -> String {
        let file = directory + "/traffic.pcap"
        try CaptureFixture.write(frames: frames(), to: file, linkType: .ethernet, start: SystemClock.wallNanoseconds())
        return file
    }

    /// The daemon's settings for a run: its database in `directory`, 192.0.2.0/24 local, the
    /// repository's rules, no desktop notices.
    func daemonConfiguration(in directory: String) throws -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        configuration.database = directory + "/telltale.db"
        configuration.localNetworks = [try #require(IPNetwork("192.0.2.0/24"))]
        configuration.rules = Self.repository + "/rules"
        configuration.alertDesktop = false
        return configuration
    }

    /// Runs the daemon on the file until it ends by itself; fails if it has not within 60 s.
    func runDaemon(_ configuration: DaemonConfiguration, file: String, proc: FakeProc) throws {
        let daemon = Daemon(
            configuration: configuration, configurationFile: nil, logger: Logger(label: "daemon-test"),
            notifier: SystemdNotifier(environment: [:]), packets: .file(file),
            owners: .processTable(root: proc.root, passwd: proc.root + "/passwd"))
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let thread = Thread {
            let result = Result { try daemon.run() }
            outcome.withLock { $0 = result }
        }
        thread.start()
        let deadline = SystemClock.monotonicNanoseconds() + 60_000_000_000
        while outcome.withLock({ $0 == nil }) && SystemClock.monotonicNanoseconds() < deadline { usleep(10_000) }
        guard let result = outcome.withLock({ $0 }) else {
            daemon.stop()
            while outcome.withLock({ $0 == nil }) { usleep(10_000) }
            Issue.record("the daemon did not end at the end of its capture file within 60 s")
            return
        }
        try result.get()
    }

    @Test func daemonLoopWritesAttributedNamedJudgedFlowsFromAFileWithoutRoot() throws {
        let directory = CaptureFixture.makeTemporaryDirectory(prefix: "tt-daemon-inprocess")
        defer { CaptureFixture.removeDirectory(directory) }
        let proc = try processTable()
        defer { proc.remove() }
        let file = try captureFile(in: directory)

        let configuration = try daemonConfiguration(in: directory)
        try runDaemon(configuration, file: file, proc: proc)

        let store = try FlowStore(path: configuration.database)
        let rows = try store.flows(in: TimeWindow())
        #expect(rows.count == 2)
        #expect(try store.daemonState()?.interfaces == "file:\(file)")
        let upload = try #require(rows.first { $0.remotePort == 80 })
        #expect(upload.process?.pid == 4242)
        #expect(upload.process?.exe == "/usr/local/bin/llama-server")
        #expect(upload.process?.cmdline == "llama-server -m tiny.gguf")
        #expect(upload.process?.role == "model-runtime")
        #expect(upload.attributionSource == "polling")
        #expect(upload.hostname == "uploads.example")
        #expect(upload.nameSource == "http-host")
        #expect(upload.scope == .internet)
        #expect(upload.direction == .outbound)
        #expect(upload.packetsOut == 5 && upload.packetsIn == 3)
        #expect(upload.connState == "SF")
        // rules/: a model runtime may reach loopback only; the upload breaks that, and alerts.
        #expect(upload.verdict == .alert)
        #expect(upload.rule == "model-runtime/default")
        let datagram = try #require(rows.first { $0.remotePort == 9999 })
        #expect(datagram.process == nil)
        #expect(datagram.unattributedReason == "no-socket")
        // The capture's counters reached the store, as `report` shows them.
        #expect(try store.coverage(in: TimeWindow()).received == 9)
        let alerts = try store.alerts(in: TimeWindow())
        #expect(alerts.count == 1)
        #expect(alerts.first?.flowUID == upload.uid && alerts.first?.pid == 4242)
    }

    @Test func aDamagedCaptureEndsTheRunWithTheFlowsBeforeTheDamage() throws {
        let directory = CaptureFixture.makeTemporaryDirectory(prefix: "tt-daemon-inprocess")
        defer { CaptureFixture.removeDirectory(directory) }
        let proc = try processTable()
        defer { proc.remove() }
        let file = try captureFile(in: directory)
        // Cut the file inside its last record.
        let bytes = try #require(CaptureFixture.readBytes(file))
        #expect(CaptureFixture.writeBytes(Array(bytes.dropLast(10)), to: file))

        let configuration = try daemonConfiguration(in: directory)
        try runDaemon(configuration, file: file, proc: proc)

        let rows = try FlowStore(path: configuration.database).flows(in: TimeWindow())
        #expect(rows.map(\.remotePort) == [80])
        #expect(rows.first?.process?.pid == 4242)
    }
}
