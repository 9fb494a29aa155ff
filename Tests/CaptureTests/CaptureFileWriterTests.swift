import Capture
import PacketParsing
import Testing
import TestSupport

@Suite struct CaptureFileWriterTests {
    @Test func aWrittenFrameReadsBackWithItsBytesAndTime() throws {
        let directory = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(directory) }
        let path = directory + "/one.pcap"
        let frame = FrameBuilder.frame(
            ip: .v4(from: "10.0.0.1", to: "198.18.0.1"), transport: .udp(sourcePort: 1, destinationPort: 2))
        try CaptureFixture.write([FixtureFrame(frame, timestamp: 1_700_000_000_123_456_789)], to: path, linkType: .ethernet)
        let handle = try PcapHandle.openFile(path)
        var seen: [([UInt8], Int64)] = []
        _ = try handle.dispatch(limit: 10) { bytes, _, time in seen.append((Array(bytes), time)) }
        #expect(seen.count == 1)
        #expect(seen.first?.0 == frame)
        #expect(seen.first?.1 == 1_700_000_000_123_456_789)
    }
}
