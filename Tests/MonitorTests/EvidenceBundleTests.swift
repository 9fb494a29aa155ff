import Foundation
import Capture
import Flows
import PacketParsing
import Posix
import Reporting
import Testing
import TestSupport

@testable import Monitor

/// A bundle made as `run --evidence` makes one, from frames of a fixture instead of a live capture:
/// the frames go through the capture tap, the flows come from a replay with `run`'s short timeouts.
struct EvidenceFixture {
    let root: String
    let bundle: String
    let rows: [FlowRow]
    let frames: Int

    static let start: Int64 = 1_700_000_000_000_000_000

    /// A TCP conversation with a 5-second pause in it (after the pause the server speaks first), DNS,
    /// a ping, IPv6 UDP, and a loopback TCP conversation, as Linux cooked v2 frames.
    static func frames() -> [(bytes: [UInt8], time: Int64)] {
        let link = FrameBuilder.Link.linuxCookedV2()
        let a: IPAddress = "10.0.0.1", b: IPAddress = "198.18.0.2", lo: IPAddress = "127.0.0.1"
        let out = FrameBuilder.IPHeader.v4(from: a, to: b), back = out.reversed
        let loOut = FrameBuilder.IPHeader.v4(from: lo, to: lo)
        let out6 = FrameBuilder.IPHeader.v6(from: "fd00::1", to: "2001:db8::2")
        func tcp(_ ip: FrameBuilder.IPHeader, _ source: UInt16, _ destination: UInt16, _ flags: FrameBuilder.TCPFlags, _ size: Int = 0) -> [UInt8] {
            FrameBuilder.frame(link: link, ip: ip, transport: .tcp(
                sourcePort: source, destinationPort: destination, flags: flags, payload: Array(repeating: 0x41, count: size)))
        }
        let early: [[UInt8]] = [
            tcp(out, 40000, 80, .syn), tcp(back, 80, 40000, .synAck), tcp(out, 40000, 80, .ack),
            tcp(out, 40000, 80, .pshAck, 100),
            FrameBuilder.frame(link: link, ip: out, transport: .udp(sourcePort: 5353, destinationPort: 53, payload: Array(repeating: 1, count: 30))),
            FrameBuilder.frame(link: link, ip: back, transport: .udp(sourcePort: 53, destinationPort: 5353, payload: Array(repeating: 2, count: 60))),
            FrameBuilder.frame(link: link, ip: out, transport: .echo(identifier: 9, payload: Array(repeating: 0, count: 56))),
            FrameBuilder.frame(link: link, ip: back, transport: .echo(reply: true, identifier: 9, payload: Array(repeating: 0, count: 56))),
            FrameBuilder.frame(link: link, ip: out6, transport: .udp(sourcePort: 1000, destinationPort: 2000, payload: [1, 2, 3])),
            tcp(loOut, 45000, 8000, .syn), tcp(loOut, 8000, 45000, .synAck), tcp(loOut, 45000, 8000, .ack),
            tcp(loOut, 45000, 8000, .pshAck, 80), tcp(loOut, 8000, 45000, .pshAck, 500),
            tcp(loOut, 45000, 8000, .finAck), tcp(loOut, 8000, 45000, .finAck), tcp(loOut, 45000, 8000, .ack),
        ]
        let late: [[UInt8]] = [
            tcp(back, 80, 40000, .pshAck, 1200), tcp(out, 40000, 80, .ack), tcp(back, 80, 40000, .finAck),
            tcp(out, 40000, 80, .finAck), tcp(back, 80, 40000, .ack),
        ]
        let millisecond: Int64 = 1_000_000
        return early.enumerated().map { ($0.element, start + Int64($0.offset) * millisecond) }
            + late.enumerated().map { ($0.element, start + 5 * FlowTimeouts.second + Int64($0.offset) * millisecond) }
    }

    /// Writes the frames through a tap into a new bundle directory, derives the rows with a 1-second
    /// TCP idle timeout (the pause splits the first conversation in two), and writes the bundle.
    static func make() throws -> EvidenceFixture {
        let root = CaptureFixture.makeTemporaryDirectory(prefix: "telltale-evidence")
        let bundle = root + "/bundle"
        try EvidenceBundle.prepare(bundle)
        let frames = frames()
        let tap = try CaptureTap(path: EvidenceBundle.capturePath(in: bundle), linkType: .linuxCookedV2, snapLength: 8192)
        for frame in frames {
            frame.bytes.withUnsafeBytes { tap.copy($0, linkType: .linuxCookedV2, wireLength: frame.bytes.count, timestamp: frame.time) }
        }
        let summary = tap.close()
        #expect(summary.isComplete && summary.framesWritten == Int64(frames.count))

        var replay = Replay(timeouts: FlowTimeouts(tcpIdle: FlowTimeouts.second, tcpClosed: FlowTimeouts.second, active: 0))
        var records: [FlowRecord] = []
        replay.run(files: [EvidenceBundle.capturePath(in: bundle)]) { records += $0 }
        let local = LocalNetwork(addresses: ["10.0.0.1", "fd00::1"])
        var rows = records.map { FlowRow($0, local: local) }.sorted { $0.start < $1.start }
        var opener = FlowRow.Process(pid: 4242)
        opener.startTime = 123_456
        opener.exe = "/usr/bin/curl"
        opener.sha256 = String(repeating: "ab", count: 32)
        opener.cmdline = "curl -s http://127.0.0.1:8000/"
        var server = FlowRow.Process(pid: 4100)
        server.startTime = 120_000
        server.exe = "/usr/bin/python3"
        server.cmdline = "python3 -m http.server 8000"
        if let index = rows.firstIndex(where: { $0.localPort == 45000 || $0.remotePort == 45000 }) {
            rows[index].process = opener
            rows[index].peerProcess = server
        }
        let audit = AuditReport(
            kind: "run", command: ["curl", "-s", "http://127.0.0.1:8000/"], start: start, end: start + 6 * FlowTimeouts.second,
            exitStatus: 0, interfaces: ["fixture"], isolated: false, policy: "loopback only", treeFlows: [],
            otherFlows: 0, unattributedFlows: rows, packets: Int64(frames.count), dropped: 0, damaged: 0)
        try EvidenceBundle.write(to: bundle, flows: rows, audit: audit, created: start + 7 * FlowTimeouts.second)
        return EvidenceFixture(root: root, bundle: bundle, rows: rows, frames: frames.count)
    }

    func remove() {
        CaptureFixture.removeDirectory(bundle)
        CaptureFixture.removeDirectory(root)
    }

    func path(_ name: String) -> String { bundle + "/" + name }
}

@Suite struct EvidenceBundleTests {
    @Test func aBundleFromAReplayedCaptureVerifies() throws {
        let fixture = try EvidenceFixture.make()
        defer { fixture.remove() }
        // The pause split the first TCP conversation into two flows; verify compares it whole.
        #expect(fixture.rows.filter { $0.remotePort == 80 || $0.localPort == 80 }.count == 2)
        let check = EvidenceBundle.verify(fixture.bundle)
        #expect(check.agrees, "\(check.hashProblems) \(check.captureProblem ?? "") \(check.flowProblems)")
        #expect(check.listedFiles == EvidenceBundle.fileNames.count)
        #expect(check.recordedFlows == fixture.rows.count && check.rederivedFlows == fixture.rows.count)
        #expect(check.frames == Int64(fixture.frames))
        #expect(check.version == telltaleVersion)
        #expect(check.summary.first == "hashes: 6 files ok")
        #expect(check.summary.last == "flows: \(fixture.rows.count) of \(fixture.rows.count) re-derived from capture.pcapng with the same packets and bytes")

        let manifest = TestProcess.contents(fixture.path("MANIFEST")).split(separator: "\n").map(String.init)
        #expect(manifest.first == "telltale-evidence 1")
        #expect(manifest.dropFirst().first == "version \(telltaleVersion)")
        #expect(manifest.dropFirst(2).first?.hasPrefix("created 2023-11-14T22:13:27") == true)
        #expect(manifest.count == 3 + EvidenceBundle.fileNames.count)

        // The modes: the directory 0750, every file 0640.
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.bundle)
        #expect((attributes[.posixPermissions] as? Int) == 0o750)
        for name in EvidenceBundle.fileNames + ["MANIFEST"] {
            let mode = try FileManager.default.attributesOfItem(atPath: fixture.path(name))[.posixPermissions] as? Int
            #expect(mode == 0o640, "\(name)")
        }

        // Processes: the opener and the peer, each once, with their identities.
        let processes = TestProcess.contents(fixture.path("processes.ndjson")).split(separator: "\n")
        #expect(processes.count == 2)
        #expect(processes.first?.contains("\"start_time\":123456") == true && processes.first?.contains("/usr/bin/curl") == true)
        #expect(TestProcess.contents(fixture.path("content.ndjson")).isEmpty)
        // Every flow line is the report's ndjson: the contract's keys.
        let firstFlow = TestProcess.contents(fixture.path("flows.ndjson")).split(separator: "\n").first.map(String.init) ?? ""
        #expect(firstFlow.hasPrefix("{\"uid\":") && firstFlow.contains("\"community_id\":\"1:"))

        // sha256sum checks the same files without Telltale.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") {
            let result = try TestProcess.runCombined(["/bin/sh", "-c", "cd '\(fixture.bundle)' && sha256sum -c MANIFEST"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("capture.pcapng: OK"))
        }
    }

    @Test func aChangedByteInTheFlowsNamesTheFileAndTheFlow() throws {
        let fixture = try EvidenceFixture.make()
        defer { fixture.remove() }
        let path = fixture.path("flows.ndjson")
        var bytes = try #require(CaptureFixture.readBytes(path))
        let text = String(decoding: bytes, as: UTF8.self)
        // The loopback conversation's line: one digit of its bytes_out changes.
        let line = try #require(text.split(separator: "\n").first { $0.contains("\"local_port\":45000") || $0.contains("\"remote_port\":45000") })
        let uid = try #require(fixture.rows.first { $0.localPort == 45000 || $0.remotePort == 45000 }?.uid)
        let key = try #require(line.range(of: "\"bytes_out\":"))
        let offset = text.utf8.distance(from: text.startIndex, to: key.upperBound)
        bytes[offset] = bytes[offset] == UInt8(ascii: "9") ? UInt8(ascii: "1") : bytes[offset] + 1
        #expect(CaptureFixture.writeBytes(bytes, to: path))

        let check = EvidenceBundle.verify(fixture.bundle)
        #expect(!check.agrees)
        #expect(check.hashProblems.count == 1 && check.hashProblems.first?.hasPrefix("flows.ndjson: changed") == true, "\(check.hashProblems)")
        #expect(check.flowProblems.count == 1, "\(check.flowProblems)")
        #expect(check.flowProblems.first?.contains(uid) == true, "\(check.flowProblems)")
        #expect(check.rederivedFlows == fixture.rows.count - 1)
    }

    @Test func aMissingOrAddedFileIsNamed() throws {
        let fixture = try EvidenceFixture.make()
        defer { fixture.remove() }
        #expect(unlink(fixture.path("audit.md")) == 0)
        #expect(CaptureFixture.writeBytes(Array("later\n".utf8), to: fixture.path("notes.txt")))
        let check = EvidenceBundle.verify(fixture.bundle)
        #expect(!check.agrees)
        #expect(check.hashProblems.contains("audit.md: missing"), "\(check.hashProblems)")
        #expect(check.hashProblems.contains("notes.txt: not in MANIFEST"), "\(check.hashProblems)")
        // The flows still agree with the capture: only the files differ.
        #expect(check.flowProblems.isEmpty && check.captureProblem == nil)

        #expect(unlink(fixture.path("MANIFEST")) == 0)
        let unlisted = EvidenceBundle.verify(fixture.bundle)
        #expect(!unlisted.agrees && !unlisted.isNotABundle)
        #expect(unlisted.hashProblems == ["MANIFEST: missing"])
    }

    @Test func aTruncatedCaptureIsAClearErrorNotACrash() throws {
        let fixture = try EvidenceFixture.make()
        defer { fixture.remove() }
        let path = fixture.path("capture.pcapng")
        let bytes = try #require(CaptureFixture.readBytes(path))
        // Cut in the middle of a frame's block.
        #expect(CaptureFixture.writeBytes(Array(bytes[0..<(bytes.count - 30)]), to: path))
        let check = EvidenceBundle.verify(fixture.bundle)
        #expect(!check.agrees)
        #expect(check.hashProblems.first?.hasPrefix("capture.pcapng: changed") == true, "\(check.hashProblems)")
        let problem = try #require(check.captureProblem)
        #expect(problem.hasPrefix("capture.pcapng cannot be read to its end:") && problem.contains("truncated"), "\(problem)")
        // The last frame's conversation now differs; the others are still re-derived.
        #expect(check.frames == Int64(fixture.frames - 1))
        #expect(check.flowProblems.count == 1, "\(check.flowProblems)")
    }

    @Test func aDirectoryWithOtherFilesIsRefusedAndAnEmptyOneTaken() throws {
        let root = CaptureFixture.makeTemporaryDirectory(prefix: "telltale-evidence")
        defer { CaptureFixture.removeDirectory(root + "/empty"); CaptureFixture.removeDirectory(root) }
        #expect(CaptureFixture.writeBytes([1], to: root + "/file"))
        #expect(throws: SystemError.self) { try EvidenceBundle.prepare(root) }
        #expect(throws: SystemError.self) { try EvidenceBundle.prepare(root + "/file") }
        #expect(mkdir(root + "/empty", 0o700) == 0)
        try EvidenceBundle.prepare(root + "/empty")
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/empty")[.posixPermissions] as? Int
        #expect(mode == 0o750)
        // A directory that holds no bundle at all is not a bundle, rather than one with every file missing.
        #expect(EvidenceBundle.verify(root + "/empty").isNotABundle)
    }

    @Test func theTapCountsFramesOfAnotherLinkTypeAndKeepsTheFileReadable() throws {
        let root = CaptureFixture.makeTemporaryDirectory(prefix: "telltale-evidence")
        defer { CaptureFixture.removeDirectory(root) }
        let frame = FrameBuilder.frame(
            link: .linuxCookedV2(), ip: .v4(from: "10.0.0.1", to: "198.18.0.2"), transport: .udp(sourcePort: 1, destinationPort: 2))
        let other = FrameBuilder.frame(
            link: .ethernet(), ip: .v4(from: "10.0.0.1", to: "198.18.0.2"), transport: .udp(sourcePort: 1, destinationPort: 2))
        let tap = try CaptureTap(path: root + "/t.pcapng", linkType: .linuxCookedV2, snapLength: 8192)
        frame.withUnsafeBytes { tap.copy($0, linkType: .linuxCookedV2, wireLength: frame.count, timestamp: 1) }
        other.withUnsafeBytes { tap.copy($0, linkType: .ethernet, wireLength: other.count, timestamp: 2) }
        frame.withUnsafeBytes { tap.copy($0, linkType: .linuxCookedV2, wireLength: frame.count + 1000, timestamp: 3) }
        let summary = tap.close()
        #expect(summary.framesWritten == 2 && summary.framesNotWritten == 1 && !summary.isComplete)
        #expect(summary.problem?.contains("ethernet") == true)
        var replay = Replay()
        var records: [FlowRecord] = []
        replay.run(files: [root + "/t.pcapng"]) { records += $0 }
        #expect(replay.problems.isEmpty && replay.pipeline.counters.frames == 2)
        #expect(records.count == 1 && records.first?.originatorPackets == 2)
    }

    @Test(.enabled(if: getuid() == 0, "needs root: mounts a small tmpfs to fill"))
    func aFullDiskEndsTheCopyWithACountedErrorInsteadOfACrash() throws {
        let root = CaptureFixture.makeTemporaryDirectory(prefix: "telltale-evidence")
        defer { CaptureFixture.removeDirectory(root) }
        let mount = root + "/small"
        #expect(mkdir(mount, 0o700) == 0)
        defer { rmdir(mount) }
        let mounted = try TestProcess.runCombined(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount])
        try #require(mounted.status == 0, "mount failed: \(mounted.output)")
        defer { _ = try? TestProcess.runCombined(["umount", "-l", mount]) }

        let frame = FrameBuilder.frame(
            link: .linuxCookedV2(), ip: .v4(from: "10.0.0.1", to: "198.18.0.2"),
            transport: .udp(sourcePort: 1, destinationPort: 2, payload: Array(repeating: 7, count: 100)))
        let tap = try CaptureTap(path: mount + "/capture.pcapng", linkType: .linuxCookedV2, snapLength: 8192)
        // About 170 bytes a frame: 20,000 frames are 3.4 MB, far past 64 KiB.
        for index in 0..<20_000 {
            frame.withUnsafeBytes { tap.copy($0, linkType: .linuxCookedV2, wireLength: frame.count, timestamp: Int64(index) * 1000) }
        }
        let summary = tap.close()
        #expect(!summary.isComplete)
        #expect(summary.framesWritten + summary.framesNotWritten == 20_000)
        // Written: what fit in 64 KiB (under 400 frames); the rest, buffered when the disk filled or
        // after, is counted as not written.
        #expect(summary.framesWritten < 400 && summary.framesNotWritten > 19_600, "\(summary)")
        #expect(summary.problem?.contains("No space left on device") == true, "\(summary.problem ?? "no problem")")
        // What reached the disk still reads, up to the cut.
        var replay = Replay()
        replay.run(files: [mount + "/capture.pcapng"]) { _ in }
        #expect(replay.pipeline.counters.frames > 0 && replay.pipeline.counters.frames < 20_000)
    }
}
