import Capture
import Foundation
import PacketParsing
import Testing
import TestSupport

/// Classic pcap files in this machine's byte order are read in blocks by our own reader; the same
/// file written in the other byte order is read by libpcap. Every file here is read both ways and
/// must give the same records, timestamps, errors and messages.
@Suite struct PcapFileBlocksTests {
    struct Reading: Equatable, CustomStringConvertible {
        var frames: [[UInt8]] = []
        var wireLengths: [Int] = []
        var timestamps: [Int64] = []
        var error: CaptureError?
        var description: String { "\(frames.count) frames, error: \(error.map { "\($0)" } ?? "none")" }
    }

    static func read(_ path: String, limit: Int32 = 7) -> Reading {
        var reading = Reading()
        do {
            let handle = try PcapHandle.openFile(path)
            while true {
                let result = try handle.dispatch(limit: limit) { frame, wire, time in
                    reading.frames.append(Array(frame))
                    reading.wireLengths.append(wire)
                    reading.timestamps.append(time)
                }
                if result == .endOfFile { break }
            }
        } catch {
            reading.error = CaptureError(error.kind, source: "", message: error.message)
        }
        return reading
    }

    /// The file with every header field in the other byte order (what a big-endian machine writes).
    static func swapped(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        func swap(_ at: Int, _ width: Int) {
            guard at + width <= out.count else { return }
            out[at..<(at + width)].reverse()
        }
        swap(0, 4); swap(4, 2); swap(6, 2); swap(8, 4); swap(12, 4); swap(16, 4); swap(20, 4)
        var at = 24
        while at + 16 <= bytes.count {
            let captured = Int(bytes[at + 8]) | Int(bytes[at + 9]) << 8 | Int(bytes[at + 10]) << 16 | Int(bytes[at + 11]) << 24
            for field in 0..<4 { swap(at + field * 4, 4) }
            at += 16 + captured
        }
        // A header cut short keeps its bytes in the order it had: only whole fields were swapped.
        return out
    }

    /// Frames of many sizes (a record crossing the reader's 4 MB blocks included), some cut short.
    static func frames(count: Int, large: Bool = false) -> [FixtureFrame] {
        (0..<count).map { i in
            let size = large ? 60_000 + i % 5_000 : 60 + (i * 37) % 1400
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            return FixtureFrame(
                bytes, timestamp: 1_700_000_000_000_000_000 + Int64(i) * 1_234_567 + Int64(i % 1000),
                wireLength: i % 3 == 0 ? size + 100 : nil)
        }
    }

    static func write(_ frames: [FixtureFrame], nanoseconds: Bool, in dir: String, name: String) throws -> [UInt8] {
        let path = dir + "/" + name
        try CaptureFixture.write(frames, to: path, linkType: .ethernet, format: .pcap(nanoseconds: nanoseconds))
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Reads `bytes` both ways and expects the same outcome; returns our reading.
    @discardableResult
    static func bothWays(_ bytes: [UInt8], in dir: String, _ label: String) throws -> Reading {
        let native = dir + "/native.pcap", other = dir + "/swapped.pcap"
        try Data(bytes).write(to: URL(fileURLWithPath: native))
        try Data(swapped(bytes)).write(to: URL(fileURLWithPath: other))
        let ours = read(native), libpcaps = read(other)
        #expect(ours == libpcaps, "\(label): ours \(ours), libpcap \(libpcaps)")
        return ours
    }

    @Test(arguments: [false, true])
    func wholeFilesReadAsLibpcapReadsThem(nanoseconds: Bool) throws {
        let dir = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(dir) }
        let frames = Self.frames(count: 500)
        let bytes = try Self.write(frames, nanoseconds: nanoseconds, in: dir, name: "f.pcap")
        let reading = try Self.bothWays(bytes, in: dir, "whole")
        #expect(reading.error == nil)
        #expect(reading.frames == frames.map(\.bytes))
        #expect(reading.wireLengths == frames.map { $0.wireLength ?? $0.bytes.count })
        // Microseconds lose what is below them, as libpcap's scaling does.
        #expect(reading.timestamps == frames.map { nanoseconds ? $0.timestamp : $0.timestamp / 1000 * 1000 })
    }

    @Test func recordsAcrossTheReadersBlocksArriveWhole() throws {
        let dir = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(dir) }
        let frames = Self.frames(count: 200, large: true)  // about 12 MB: three blocks and more
        let bytes = try Self.write(frames, nanoseconds: true, in: dir, name: "big.pcap")
        let reading = try Self.bothWays(bytes, in: dir, "large")
        #expect(reading.frames.count == 200)
        #expect(reading.frames == frames.map(\.bytes))
    }

    @Test func aFileCutAnywhereGivesTheSameRecordsAndMessage() throws {
        let dir = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(dir) }
        let bytes = try Self.write(Self.frames(count: 6), nanoseconds: true, in: dir, name: "f.pcap")
        var truncated = 0
        for cut in 24..<bytes.count {
            let reading = try Self.bothWays(Array(bytes.prefix(cut)), in: dir, "cut at \(cut)")
            if reading.error?.kind == .truncated { truncated += 1 }
        }
        // Every cut but those on a record boundary is reported as truncated.
        #expect(truncated == bytes.count - 24 - 6)
    }

    @Test func overlongAndOversizedRecordsAreTreatedAsLibpcapTreatsThem() throws {
        let dir = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(dir) }
        let path = dir + "/snap.pcap"
        let frames = Self.frames(count: 4)
        try CaptureFixture.write(frames, to: path, linkType: .ethernet, snapLength: 100)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The writer cut frames to 100 bytes; claim the second record is longer than the snapshot
        // length (libpcap keeps the first 100 bytes and skips the rest) by moving its length up and
        // appending what it claims.
        func recordStart(_ n: Int) -> Int {
            var at = 24
            for _ in 0..<n {
                let captured = Int(bytes[at + 8]) | Int(bytes[at + 9]) << 8 | Int(bytes[at + 10]) << 16 | Int(bytes[at + 11]) << 24
                at += 16 + captured
            }
            return at
        }
        let second = recordStart(1)
        let third = recordStart(2)
        bytes.insert(contentsOf: [UInt8](repeating: 0xee, count: 50), at: third)
        let longer = third - second - 16 + 50
        bytes[second + 8] = UInt8(longer & 0xff); bytes[second + 9] = UInt8(longer >> 8)
        let cut = try Self.bothWays(bytes, in: dir, "record longer than the snapshot")
        #expect(cut.frames.count == 4 && cut.frames[1].count == 100, "\(cut)")

        // A record claiming more than any capture keeps ends the read, with the records before it.
        let fourth = recordStart(3)
        bytes[fourth + 8] = 0; bytes[fourth + 9] = 0; bytes[fourth + 10] = 0x10; bytes[fourth + 11] = 0
        let insane = try Self.bothWays(bytes, in: dir, "record of 1 MB")
        #expect(insane.frames.count == 3)
        #expect(insane.error?.message.contains("invalid packet capture length 1048576") == true, "\(insane)")
    }

    @Test func pcapngIsStillReadByLibpcap() throws {
        let dir = CaptureFixture.makeTemporaryDirectory()
        defer { CaptureFixture.removeDirectory(dir) }
        let path = dir + "/f.pcapng"
        let frames = Self.frames(count: 50)
        try CaptureFixture.write(frames, to: path, linkType: .ethernet, format: .pcapng)
        let reading = Self.read(path)
        #expect(reading.error == nil)
        #expect(reading.frames == frames.map(\.bytes))
    }
}
