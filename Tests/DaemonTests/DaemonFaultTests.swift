import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct DaemonFaultTests {
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: live capture on lo"))
    func killingTheDaemonMidWriteNeverCorruptsOrLosesCommittedFlows() throws {
        let dir = try ScratchDirectory.make("kill")
        let database = dir + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: ["lo"], database: database)
        let flood = try DaemonFixtures.udpFlood(host: "127.0.0.1", seconds: 150)
        defer { flood.terminate() }
        var committed: Set<String> = []
        for round in 0..<50 {
            let daemon = try TestProcess.start(["\(BuiltExecutable.telltale)", "daemon", "--config", config], log: dir + "/daemon.log")
            // Kill at a different moment of the write cycle each round, from 0.6 s on: the first
            // flows end only after the start (about 0.2 s), their 300 ms idle and the half-second
            // sweep, so a round killed sooner commits nothing and tests nothing.
            usleep(UInt32(600_000 + (round * 37_000) % 600_000))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            #expect(try DaemonFixtures.integrity(database) == "ok", "round \(round): integrity check failed")
            let now = try DaemonFixtures.flowUIDs(database)
            let lost = committed.subtracting(now)
            #expect(lost.isEmpty, "round \(round): \(lost.count) committed flows vanished")
            committed = now
        }
        #expect(committed.count > 100, "the flood should have produced many flows; got \(committed.count)")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: live capture on lo"))
    func anOpenFlowKeepsMostOfItsBytesWhenTheDaemonIsKilled() throws {
        let dir = try ScratchDirectory.make("checkpoint")
        let database = dir + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: ["lo"], database: database)
        let daemon = try TestProcess.start(["\(BuiltExecutable.telltale)", "daemon", "--config", config], log: dir + "/daemon.log")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL); daemon.waitUntilExit() } }
        #expect(DaemonFixtures.wait(timeout: 10) { TestProcess.contents(dir + "/daemon.log").contains("capturing") })
        // One socket, one flow: 100 datagrams a second (128 bytes each at the IP layer) for 30 s.
        let sender = try TestProcess.start([
            "python3", "-c",
            "import socket, time\nu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3000):\n    u.sendto(b'c' * 100, ('127.0.0.1', 18960)); time.sleep(0.01)\n",
        ], log: dir + "/sender.log")
        defer { sender.terminate(); sender.waitUntilExit() }
        let started = Date()
        usleep(10_000_000)
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        let elapsed = Date().timeIntervalSince(started)
        let stored = try DaemonFixtures.flows(database).first { $0.remotePort == 18960 }
        let bytes = stored?.bytesOut ?? 0
        // Sent so far at most 100 a second; kept: what the last checkpoint wrote.
        let sent = Int64(elapsed * 100) * 128
        #expect(Double(bytes) >= 0.6 * Double(sent), "kept \(bytes) of about \(sent) bytes")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: tmpfs mount and live capture"))
    func aFullDiskPausesWritingAndWritingResumesWhenSpaceReturns() throws {
        let dir = try ScratchDirectory.make("full")
        let mount = dir + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try TestProcess.runCombined(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount])
        try #require(mounted.status == 0, "mount failed: \(mounted.output)")
        defer { _ = try? TestProcess.runCombined(["umount", "-l", mount]) }
        let database = mount + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: ["lo"], database: database)
        let log = dir + "/daemon.log"
        let daemon = try TestProcess.start(["\(BuiltExecutable.telltale)", "daemon", "--config", config], log: log)
        defer { if daemon.isRunning { daemon.terminate() } }
        let flood = try DaemonFixtures.udpFlood(host: "127.0.0.1", seconds: 60)
        defer { flood.terminate() }
        #expect(DaemonFixtures.wait(timeout: 10) { ((try? DaemonFixtures.flowUIDs(database).count) ?? 0) > 20 })

        // Fill the file system to the last byte.
        _ = try TestProcess.runCombined(["dd", "if=/dev/zero", "of=\(mount)/filler", "bs=16k"])
        let sawFull = DaemonFixtures.wait(timeout: 15) { TestProcess.contents(log).contains("disk is full") }
        #expect(sawFull, "the daemon did not say the disk is full:\n\(TestProcess.contents(log))")
        #expect(daemon.isRunning, "the daemon exited on a full disk")
        let countWhileFull = (try? DaemonFixtures.flowUIDs(database).count) ?? 0

        try FileManager.default.removeItem(atPath: mount + "/filler")
        let resumed = DaemonFixtures.wait(timeout: 15) { TestProcess.contents(log).contains("writing resumed") }
        #expect(resumed, "writing did not resume:\n\(TestProcess.contents(log))")
        #expect(DaemonFixtures.wait(timeout: 10) { ((try? DaemonFixtures.flowUIDs(database).count) ?? 0) > countWhileFull + 20 })
        flood.terminate()
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(try DaemonFixtures.integrity(database) == "ok")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: network namespaces"))
    func captureRecoversWhenItsInterfaceDisappearsAndReturns() throws {
        let dir = try ScratchDirectory.make("veth")
        let ns = "tt-dm-peer", local = "tt-dm-a", remote = "tt-dm-b"
        func makeLink() throws {
            for command in [
                ["ip", "link", "add", local, "type", "veth", "peer", "name", remote, "netns", ns],
                ["ip", "addr", "add", "198.18.30.1/24", "dev", local],
                ["ip", "link", "set", local, "up"],
                ["ip", "netns", "exec", ns, "ip", "addr", "add", "198.18.30.2/24", "dev", remote],
                ["ip", "netns", "exec", ns, "ip", "link", "set", remote, "up"],
            ] {
                let result = try TestProcess.runCombined(command)
                try #require(result.status == 0, "\(command.joined(separator: " ")): \(result.output)")
            }
        }
        _ = try TestProcess.runCombined(["ip", "netns", "del", ns])
        _ = try TestProcess.runCombined(["ip", "link", "del", local])
        try #require(try TestProcess.runCombined(["ip", "netns", "add", ns]).status == 0)
        defer {
            _ = try? TestProcess.runCombined(["ip", "netns", "del", ns])
            _ = try? TestProcess.runCombined(["ip", "link", "del", local])
        }
        try makeLink()
        let database = dir + "/flows.db"
        let config = try DaemonFixtures.fastConfiguration(in: dir, interfaces: [local], database: database)
        let log = dir + "/daemon.log"
        let daemon = try TestProcess.start(["\(BuiltExecutable.telltale)", "daemon", "--config", config], log: log)
        defer { if daemon.isRunning { daemon.terminate() } }
        usleep(800_000)
        _ = try TestProcess.runCombined(["ping", "-c", "2", "-i", "0.2", "198.18.30.2"])

        try #require(try TestProcess.runCombined(["ip", "link", "del", local]).status == 0)
        #expect(DaemonFixtures.wait(timeout: 5) { TestProcess.contents(log).contains("capture on \(local) stopped") })
        usleep(1_500_000)
        try makeLink()
        #expect(DaemonFixtures.wait(timeout: 5) { TestProcess.contents(log).contains("capture on \(local) resumed") })
        // A datagram sent after the interface returned must be recorded.
        _ = try TestProcess.runCombined([
            "python3", "-c",
            "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.sendto(b'after'*20,('198.18.30.2',4711))",
        ])
        let recorded = DaemonFixtures.wait(timeout: 5) {
            let report = (try? TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "csv"]).output) ?? ""
            return report.contains(",4711,")
        }
        #expect(recorded, "no flow to port 4711 after the interface came back:\n\(TestProcess.contents(log))")
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test func aDatabaseThatIsNotOursMakesTheDaemonExitWithAClearError() throws {
        let dir = try ScratchDirectory.make("foreign")
        let path = dir + "/notes.db"
        let text = Data("my notes\n".utf8)
        try text.write(to: URL(fileURLWithPath: path))
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "daemon", "--db", path, "-i", "lo"])
        #expect(result.status == 1)
        #expect(result.output.contains("is not a Telltale database"), "\(result.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text, "the file was changed")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: live capture on lo"))
    func sigtermFlushesOpenFlowsBeforeExit() throws {
        let dir = try ScratchDirectory.make("term")
        let database = dir + "/flows.db"
        // Long idle timeouts: the flow is still open when SIGTERM arrives.
        let config = dir + "/telltale.yaml"
        try "interfaces: [lo]\ndatabase: \(database)\ntimeouts: {udp_idle: 600s}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try TestProcess.start([BuiltExecutable.telltale, "daemon", "--config", config], log: dir + "/daemon.log")
        usleep(800_000)
        _ = try TestProcess.runCombined([
            "python3", "-c",
            "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.sendto(b'q'*72,('127.0.0.1',4712))",
        ])
        usleep(300_000)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let report = try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output
        let line = report.split(separator: "\n").first { $0.contains("\"remote_port\":4712") }
        let flow = try #require(line, "the open flow was not flushed at SIGTERM:\n\(report)")
        #expect(flow.contains("\"bytes_out\":100"), "72 bytes of payload + 28 of headers: \(flow)")
    }
}
