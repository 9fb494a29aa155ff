import Capture
#if canImport(Glibc)
import Glibc
#endif
import Flows
import Monitor
import PacketParsing
import Testing
import TestSupport

/// A little conversation of every kind: TCP handshake and data, DNS over UDP, a ping, IPv6 UDP, SCTP, GRE.
func conversation(_ link: FrameBuilder.Link) -> [[UInt8]] {
    let a: IPAddress = "10.0.0.1", b: IPAddress = "198.18.0.2"
    let out = FrameBuilder.IPHeader.v4(from: a, to: b), back = out.reversed
    let out6 = FrameBuilder.IPHeader.v6(from: "fd00::1", to: "2001:db8::2")
    return [
        FrameBuilder.frame(link: link, ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 80, flags: .syn)),
        FrameBuilder.frame(link: link, ip: back, transport: .tcp(sourcePort: 80, destinationPort: 40000, flags: .synAck)),
        FrameBuilder.frame(link: link, ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 80, flags: .ack)),
        FrameBuilder.frame(link: link, ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 80, flags: .pshAck, payload: Array(repeating: 0x41, count: 100))),
        FrameBuilder.frame(link: link, ip: back, transport: .tcp(sourcePort: 80, destinationPort: 40000, flags: .finAck)),
        FrameBuilder.frame(link: link, ip: out, transport: .tcp(sourcePort: 40000, destinationPort: 80, flags: .finAck)),
        FrameBuilder.frame(link: link, ip: out, transport: .udp(sourcePort: 5353, destinationPort: 53, payload: Array(repeating: 1, count: 30))),
        FrameBuilder.frame(link: link, ip: back, transport: .udp(sourcePort: 53, destinationPort: 5353, payload: Array(repeating: 2, count: 60))),
        FrameBuilder.frame(link: link, ip: out, transport: .echo(identifier: 9, payload: Array(repeating: 0, count: 56))),
        FrameBuilder.frame(link: link, ip: back, transport: .echo(reply: true, identifier: 9, payload: Array(repeating: 0, count: 56))),
        FrameBuilder.frame(link: link, ip: out6, transport: .udp(sourcePort: 1000, destinationPort: 2000, payload: [1, 2, 3])),
        FrameBuilder.frame(link: link, ip: out, transport: .sctp(sourcePort: 3868, destinationPort: 3868)),
        FrameBuilder.frame(link: link, ip: out, transport: .other(protocolNumber: 47, payload: [0, 0, 8, 0])),
    ]
}

func replay(_ paths: [String]) -> (flows: [FlowRecord], replay: Replay) {
    var replay = Replay()
    var flows: [FlowRecord] = []
    replay.run(files: paths) { flows += $0 }
    return (flows, replay)
}

@Suite struct ReplayTests {
    static let formats: [CaptureFileWriter.Format] = [.pcap(nanoseconds: false), .pcap(nanoseconds: true), .pcapng]

    @Test(arguments: formats, FrameBuilder.Link.all)
    func aWrittenFileReplaysIntoItsFlows(_ format: CaptureFileWriter.Format, _ link: FrameBuilder.Link) throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/conversation"
        let frames = conversation(link)
        let start: Int64 = 1_700_000_000_123_456_789
        try CaptureFixture.write(frames: frames, to: path, linkType: link.linkType, format: format, start: start, step: 1_000_000)
        let (flows, replay) = replay([path])
        #expect(replay.problems.isEmpty)
        #expect(replay.filesRead == 1)
        #expect(replay.pipeline.counters.frames == Int64(frames.count))
        #expect(replay.pipeline.counters.ipPackets == Int64(frames.count))
        #expect(flows.count == 6)
        let tcp = try #require(flows.first { $0.ipProtocol == 6 })
        #expect(tcp.connState == "SF")
        #expect(tcp.originatorBytes == 40 * 4 + 100 && tcp.responderBytes == 80)
        // Microsecond files keep microseconds; the others keep every nanosecond.
        let expectedStart = if case .pcap(false) = format { start / 1000 * 1000 } else { start }
        #expect(tcp.start == expectedStart)
        #expect(flows.first { $0.ipProtocol == 1 }.map { ($0.originatorPackets, $0.responderPackets) } ?? (0, 0) == (1, 1))
        #expect(flows.contains { $0.ipProtocol == 132 && $0.originatorPort == 3868 })
        #expect(flows.contains { $0.ipProtocol == 47 })
        #expect(flows.contains { $0.ipProtocol == 17 && $0.ipVersion == 6 && $0.originatorBytes == 51 })
    }

    @Test func aFlowSpanningRotatedFilesIsOneFlow() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let frames = conversation(.ethernet())
        try CaptureFixture.write(frames: Array(frames[0..<3]), to: directory + "/a.pcap", linkType: .ethernet, start: 1_000_000_000)
        try CaptureFixture.write(frames: Array(frames[3...]), to: directory + "/b.pcapng", linkType: .ethernet, format: .pcapng, start: 2_000_000_000)
        let (flows, replay) = replay([directory + "/a.pcap", directory + "/b.pcapng"])
        #expect(replay.filesRead == 2)
        #expect(flows.filter { $0.ipProtocol == 6 }.count == 1)
        #expect(flows.first { $0.ipProtocol == 6 }?.connState == "SF")
    }

    @Test(arguments: formats)
    func aFileCutMidRecordIsTruncatedAndKeepsTheFlowsBeforeTheDamage(_ format: CaptureFileWriter.Format) throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/cut"
        let frames = conversation(.ethernet())
        try CaptureFixture.write(frames: frames, to: path, linkType: .ethernet, format: format)
        let bytes = try #require(CaptureFixture.readBytes(path))
        // Cut in the middle of the last frame's bytes.
        let cut = bytes.count - (frames.last?.count ?? 0) / 2 - (format == .pcapng ? 4 : 0)
        #expect(CaptureFixture.writeBytes(Array(bytes.prefix(cut)), to: path))
        let (flows, replay) = replay([path])
        #expect(replay.problems.count == 1)
        #expect(replay.problems.first?.error.kind == .truncated)
        #expect(replay.problems.first?.path == path)
        #expect(replay.pipeline.counters.frames == Int64(frames.count - 1))
        #expect(flows.count == 5)
        #expect(flows.first { $0.ipProtocol == 6 }?.connState == "SF")
    }

    @Test(arguments: [Int64(-1), Int64.min])
    func aPcapngTimestampPastTheYear2262IsDamageAndKeepsTheFlowsBeforeIt(_ late: Int64) throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/late.pcapng"
        let frames = conversation(.ethernet())
        // The pcapng writer stores a timestamp's bit pattern: -1 is 2^64 - 1 ns (the year 2554),
        // Int64.min is 2^63 ns; neither fits in signed nanoseconds.
        var timed = frames.enumerated().map { FixtureFrame($0.element, timestamp: 1_700_000_000_000_000_000 + Int64($0.offset)) }
        timed.append(FixtureFrame(frames[0], timestamp: late))
        try CaptureFixture.write(timed, to: path, linkType: .ethernet, format: .pcapng)
        let (flows, replay) = replay([path])
        let problem = try #require(replay.problems.first)
        #expect(problem.error.kind == .damaged)
        #expect(problem.error.description.contains(path))
        #expect(problem.error.description.contains("2262"))
        #expect(replay.pipeline.counters.frames == Int64(frames.count))
        #expect(flows.count == 6)
    }

    @Test func theLatestClassicPcapTimestampsFitInNanoseconds() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/late.pcap"
        // Classic pcap keeps 32-bit seconds: 2^32 - 1 s (the year 2106) is as late as it goes.
        let latest = Int64(UInt32.max) * 1_000_000_000 + 999_999_999
        try CaptureFixture.write([FixtureFrame(conversation(.ethernet())[0], timestamp: latest)], to: path, linkType: .ethernet)
        let (flows, replay) = replay([path])
        #expect(replay.problems.isEmpty)
        #expect(flows.count == 1)
    }

    @Test func aFIFOIsRefusedInsteadOfBlocking() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/fifo.pcap"
        #expect(mkfifo(path, 0o600) == 0)
        let (flows, replay) = replay([path])
        #expect(flows.isEmpty)
        let problem = try #require(replay.problems.first)
        #expect(problem.error.kind == .open)
        #expect(problem.error.description.contains("FIFO"), "\(problem.error)")
    }

    @Test func aMissingFileIsAnOpenErrorThatNamesIt() throws {
        let (flows, replay) = replay(["/nonexistent/telltale-test.pcap"])
        #expect(flows.isEmpty)
        let problem = try #require(replay.problems.first)
        #expect(problem.error.kind == .open)
        #expect(problem.error.description.contains("/nonexistent/telltale-test.pcap"))
        #expect(problem.error.description.contains("No such file"))
    }

    @Test func aFileThatIsNotACaptureIsAnOpenError() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/notes.txt"
        #expect(CaptureFixture.writeBytes(Array("these are not packets, just text\n".utf8), to: path))
        let (flows, replay) = replay([path])
        #expect(flows.isEmpty)
        let problem = try #require(replay.problems.first)
        #expect(problem.error.kind == .open)
        #expect(problem.error.description.contains("format"))
    }

    @Test func aGoodFileAfterABadOneIsStillRead() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        try CaptureFixture.write(frames: conversation(.raw), to: directory + "/good.pcap", linkType: .raw)
        let (flows, replay) = replay([directory + "/missing.pcap", directory + "/good.pcap"])
        #expect(replay.problems.count == 1)
        #expect(replay.filesRead == 1)
        #expect(flows.count == 6)
    }

    @Test func aSnapLengthCutFileCountsWireLengths() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/snap.pcap"
        let frame = FrameBuilder.frame(ip: .v4(from: "10.0.0.1", to: "198.18.0.1"), transport: .udp(sourcePort: 1, destinationPort: 2, payload: Array(repeating: 0, count: 1400)))
        let writer = try CaptureFileWriter(path: path, linkType: .ethernet, format: .pcap(nanoseconds: true), snapLength: 128)
        try writer.write(frame, timestamp: 1)
        try writer.close()
        let (flows, _) = replay([path])
        #expect(flows.first?.originatorBytes == 1428)
    }
}

extension CaptureFileWriter.Format: Equatable {
    static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.pcap(let x), .pcap(let y)): x == y
        case (.pcapng, .pcapng): true
        default: false
        }
    }
}

extension CaptureFileWriter.Format: CustomStringConvertible {
    var description: String {
        switch self {
        case .pcap(let nanoseconds): nanoseconds ? "pcap-ns" : "pcap-us"
        case .pcapng: "pcapng"
        }
    }
}
