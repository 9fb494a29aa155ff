#if canImport(Glibc)
import Glibc
#endif
public import PacketParsing

/// Writes capture files in the classic pcap format (microsecond or nanosecond) or pcapng, so tests
/// and benchmarks make their own fixtures. Buffered: call `close()` to flush.
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

    public init(path: String, linkType: LinkType, format: Format = .pcap(nanoseconds: true), snapLength: UInt32 = 262_144) throws(CaptureError) {
        self.path = path
        self.format = format
        self.linkType = linkType
        self.snapLength = snapLength
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CaptureError(.open, source: path, message: String(cString: strerror(errno)))
        }
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

    deinit {
        if descriptor >= 0 { try? close() }
    }

    /// Appends one frame; `wireLength` defaults to the frame's length (nothing cut).
    public func write(_ frame: [UInt8], timestamp: Int64, wireLength: Int? = nil) throws(CaptureError) {
        let captured = min(frame.count, Int(snapLength))
        let original = UInt32(wireLength ?? frame.count)
        switch format {
        case .pcap(let nanoseconds):
            let seconds = timestamp / 1_000_000_000
            let fraction = timestamp % 1_000_000_000
            put32(UInt32(truncatingIfNeeded: seconds))
            put32(UInt32(truncatingIfNeeded: nanoseconds ? fraction : fraction / 1000))
            put32(UInt32(captured)); put32(original)
            buffer += frame[0..<captured]
        case .pcapng:
            let padded = (captured + 3) & ~3
            let total = UInt32(32 + padded)
            put32(6); put32(total); put32(0)
            put32(UInt32(truncatingIfNeeded: UInt64(bitPattern: timestamp) >> 32))
            put32(UInt32(truncatingIfNeeded: UInt64(bitPattern: timestamp)))
            put32(UInt32(captured)); put32(original)
            buffer += frame[0..<captured]
            buffer += [UInt8](repeating: 0, count: padded - captured)
            put32(total)
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes what is buffered and closes the file.
    public func close() throws(CaptureError) {
        guard descriptor >= 0 else { return }
        try flush()
        Glibc.close(descriptor)
        descriptor = -1
    }

    private func flush() throws(CaptureError) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw CaptureError(.read, source: path, message: "write failed: " + String(cString: strerror(errno)))
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    // Little-endian, the writer's own byte order as the magic numbers declare.
    private func put16(_ v: UInt16) { buffer += [UInt8(v & 0xff), UInt8(v >> 8)] }
    private func put32(_ v: UInt32) {
        buffer += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
    }
}
