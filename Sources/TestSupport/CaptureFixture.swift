#if canImport(Glibc)
import Glibc
#endif
public import Capture
public import PacketParsing

/// One frame of a fixture: bytes, capture time and (optionally) a wire length longer than the bytes.
public struct FixtureFrame: Sendable, Hashable {
    public var bytes: [UInt8]
    /// Nanoseconds since the Unix epoch.
    public var timestamp: Int64
    /// The frame's length on the wire; nil means nothing was cut.
    public var wireLength: Int?

    public init(_ bytes: [UInt8], timestamp: Int64, wireLength: Int? = nil) {
        self.bytes = bytes
        self.timestamp = timestamp
        self.wireLength = wireLength
    }
}

/// Capture-file fixtures written through `CaptureFileWriter`, in a fresh temporary directory.
public enum CaptureFixture {
    /// Writes `frames` to `path` with the given link type and format.
    public static func write(
        _ frames: [FixtureFrame], to path: String, linkType: LinkType,
        format: CaptureFileWriter.Format = .pcap(nanoseconds: true), snapLength: UInt32 = 262_144
    ) throws(CaptureError) {
        let writer = try CaptureFileWriter(path: path, linkType: linkType, format: format, snapLength: snapLength)
        for frame in frames {
            try writer.write(frame.bytes, timestamp: frame.timestamp, wireLength: frame.wireLength)
        }
        try writer.close()
    }

    /// Writes frames spaced `step` nanoseconds apart from `start`.
    public static func write(
        frames: [[UInt8]], to path: String, linkType: LinkType,
        format: CaptureFileWriter.Format = .pcap(nanoseconds: true),
        start: Int64 = 1_700_000_000_000_000_000, step: Int64 = 1_000_000
    ) throws(CaptureError) {
        let timed = frames.enumerated().map { FixtureFrame($0.element, timestamp: start + Int64($0.offset) * step) }
        try write(timed, to: path, linkType: linkType, format: format)
    }

    /// A new, empty private directory under the system's temporary directory; remove it with
    /// `removeDirectory(_:)` when done.
    public static func makeTemporaryDirectory(prefix: String = "telltale-test") -> String {
        let base = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let baseAddress = buffer.baseAddress, mkdtemp(baseAddress) != nil else { return nil }
            return String(cString: baseAddress)
        }
        return made ?? "\(base)/\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes a directory made by `makeTemporaryDirectory` and the files in it (not recursive).
    public static func removeDirectory(_ path: String) {
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { unlink("\(path)/\(name)") }
            }
            closedir(directory)
        }
        rmdir(path)
    }

    /// The bytes of a file (to cut it or corrupt it in a test); nil when it cannot be read.
    public static func readBytes(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { out += chunk[0..<count] }
            if count < chunk.count { break }
        }
        return out
    }

    /// Writes raw bytes to a file (a cut or corrupted capture, or something that is not one).
    @discardableResult
    public static func writeBytes(_ bytes: [UInt8], to path: String) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        defer { fclose(file) }
        return fwrite(bytes, 1, bytes.count, file) == bytes.count
    }
}
