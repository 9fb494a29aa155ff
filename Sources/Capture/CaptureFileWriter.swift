#if canImport(Glibc)
import Glibc
#endif
public import PacketParsing
import Posix

/// Writes capture files in the classic pcap format (microsecond or nanosecond) or pcapng, so tests
/// and benchmarks make their own fixtures and `run --evidence` keeps its frames. Buffered (up to
/// 1 MiB between writes): call `close()` to flush.
///
/// One interface, one link type per file: libpcap refuses a pcapng file whose interfaces differ in
/// link type ("an interface has a type different from the type of the first interface").
public final class CaptureFileWriter {
    public enum Format: Sendable {
        case pcap(nanoseconds: Bool)
        case pcapng
    }

    public let format: Format
    public let linkType: LinkType
    public let snapLength: UInt32
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let path: String

    /// Creates (or truncates) the file at `path` with the permission bits `mode` (0640: packets
    /// carry what people send, so like the database, for the owner and group only).
    public init(
        path: String, linkType: LinkType, format: Format = .pcap(nanoseconds: true), snapLength: UInt32 = 262_144,
        mode: UInt32 = 0o640
    ) throws(CaptureError) {
        self.path = path
        self.format = format
        self.linkType = linkType
        self.snapLength = snapLength
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else {
            throw CaptureError(.open, source: path, cause: SystemError("open \(path)"))
        }
        // The umask may have narrowed a new file's mode, and an existing file keeps its own: set it.
        fchmod(descriptor, mode_t(mode))
        buffer.reserveCapacity(1 << 20)
        switch format {
        case .pcap(let nanoseconds):
            put32(nanoseconds ? 0xa1b2_3c4d : 0xa1b2_c3d4)
            put16(2); put16(4)
            put32(0); put32(0)
            put32(snapLength)
            put32(linkType.fileLinkType)
        case .pcapng:
            // Section header block.
            put32(0x0a0d_0d0a); put32(28); put32(0x1a2b_3c4d); put16(1); put16(0)
            put32(0xffff_ffff); put32(0xffff_ffff); put32(28)
            // Interface description block with if_tsresol = 9 (nanoseconds).
            put32(1); put32(32); put16(UInt16(linkType.fileLinkType)); put16(0); put32(snapLength)
            put16(9); put16(1); buffer += [9, 0, 0, 0]
            put16(0); put16(0)
            put32(32)
        }
    }

    /// Bytes appended but not yet written to the file (zero right after a write reached it).
    public var bufferedBytes: Int { buffer.count }

    deinit {
        if descriptor >= 0 { try? close() }
    }

    /// Appends one frame; `wireLength` defaults to the frame's length (nothing cut).
    public func write(_ frame: [UInt8], timestamp: Int64, wireLength: Int? = nil) throws(CaptureError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out as a value.
        let failure = frame.withUnsafeBytes { bytes -> CaptureError? in
            do throws(CaptureError) {
                try write(bytes, timestamp: timestamp, wireLength: wireLength)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Appends one frame as the capture handed it over (valid for this call only).
    public func write(_ frame: UnsafeRawBufferPointer, timestamp: Int64, wireLength: Int? = nil) throws(CaptureError) {
        let captured = min(frame.count, Int(snapLength))
        // Bytes viewed as UInt8 (any memory may be): the array appends them in one copy.
        let kept = UnsafeBufferPointer(start: frame.baseAddress?.assumingMemoryBound(to: UInt8.self), count: captured)
        let original = UInt32(truncatingIfNeeded: wireLength ?? frame.count)
        switch format {
        case .pcap(let nanoseconds):
            let seconds = timestamp / 1_000_000_000
            let fraction = timestamp % 1_000_000_000
            put32(UInt32(truncatingIfNeeded: seconds))
            put32(UInt32(truncatingIfNeeded: nanoseconds ? fraction : fraction / 1000))
            put32(UInt32(captured)); put32(original)
            buffer.append(contentsOf: kept)
        case .pcapng:
            let padded = (captured + 3) & ~3
            let total = UInt32(32 + padded)
            put32(6); put32(total); put32(0)
            put32(UInt32(truncatingIfNeeded: UInt64(bitPattern: timestamp) >> 32))
            put32(UInt32(truncatingIfNeeded: UInt64(bitPattern: timestamp)))
            put32(UInt32(captured)); put32(original)
            buffer.append(contentsOf: kept)
            for _ in captured..<padded { buffer.append(0) }
            put32(total)
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes what is buffered and closes the file; the file is closed even when the write fails.
    public func close() throws(CaptureError) {
        guard descriptor >= 0 else { return }
        defer {
            Glibc.close(descriptor)
            descriptor = -1
            buffer = []
        }
        try flush()
    }

    private func flush() throws(CaptureError) {
        do {
            try FileDescriptor.writeAll(descriptor, buffer, what: "write \(path)")
        } catch {
            throw CaptureError(.read, source: path, cause: error, context: "write failed")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    // Little-endian, the writer's own byte order as the magic numbers declare. Byte by byte, with no
    // array per field: this runs for every frame `run --evidence` keeps, on the capture thread.
    private func put16(_ v: UInt16) {
        buffer.append(UInt8(v & 0xff))
        buffer.append(UInt8(v >> 8))
    }
    private func put32(_ v: UInt32) {
        buffer.append(UInt8(v & 0xff))
        buffer.append(UInt8((v >> 8) & 0xff))
        buffer.append(UInt8((v >> 16) & 0xff))
        buffer.append(UInt8(v >> 24))
    }
}
