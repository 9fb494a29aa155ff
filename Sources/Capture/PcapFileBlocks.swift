#if canImport(Glibc)
import Glibc
#endif
import Posix

/// Reads the records of a classic pcap file in this machine's byte order (format version 2.4, with
/// microsecond or nanosecond timestamps) from blocks of a few megabytes, rather than with two `fread`
/// calls a record as libpcap does: those calls were a sixth of a replay's time. Any other file —
/// pcapng, the other byte order, older versions, the Kuznetzov and Navtel variants — is left to
/// libpcap, which has opened every file first and checked its header.
///
/// Records are checked as libpcap checks them (sf-pcap.c), with its messages: a damaged or truncated
/// file reads the same either way, up to the same record.
struct PcapFileBlocks {
    /// One step of the read.
    enum Step {
        /// A record: its captured bytes (valid until the next call), wire length, and timestamp as
        /// seconds and nanoseconds, sign-extended as libpcap does.
        case record(UnsafeRawBufferPointer, wireLength: Int, seconds: Int64, nanoseconds: Int64)
        case end
        /// The file cannot be read further: libpcap's message (a truncated record or header, a record
        /// longer than any capture keeps, or a read error).
        case failure(String)
    }

    static let fileHeaderSize = 24
    static let recordHeaderSize = 16
    /// libpcap's largest sane captured length for every link type but D-Bus, EBHSCR and USBPcap.
    static let maximumCaptured: UInt32 = 262_144
    /// The read buffer: 4 MB, or less for a smaller file, never less than the longest record.
    static let blockSize = 4 << 20
    static let smallestBlock = recordHeaderSize + Int(maximumCaptured)

    /// The file's descriptor; libpcap's stream owns it, and reads here go by offset (pread), so the
    /// two never disturb each other's position.
    private let descriptor: Int32
    private let nanosecondFile: Bool
    /// The file's snapshot length as libpcap settled it (pcap_snapshot).
    private let snapshot: UInt32
    private let buffer: UnsafeMutableRawBufferPointer
    /// Unread bytes are buffer[start..<end]; the next read starts at file offset `nextReadOffset`.
    private var start = 0
    private var end = 0
    private var nextReadOffset = Int64(fileHeaderSize)
    private var atEndOfFile = false

    /// Blocks for the file behind `descriptor` when it is one this reader handles, else nil.
    /// - Parameters:
    ///   - fileSize: the file's size when opened (a smaller file gets a smaller buffer).
    ///   - snapshot: the snapshot length libpcap settled for the file.
    ///   - dataLinkType: the file's link type as libpcap maps it (DLT).
    init?(descriptor: Int32, fileSize: Int, snapshot: Int32, dataLinkType: Int32) {
        // D-Bus (231), USBPcap (249) and EBHSCR (279) allow longer records: libpcap reads those.
        guard ![231, 249, 279].contains(dataLinkType), snapshot > 0, UInt32(snapshot) <= PcapFileBlocks.maximumCaptured else {
            return nil
        }
        var header = [UInt8](repeating: 0, count: PcapFileBlocks.fileHeaderSize)
        let got = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard got == PcapFileBlocks.fileHeaderSize else { return nil }
        let magic = header.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let major = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt16.self) }
        let minor = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 6, as: UInt16.self) }
        // In this machine's byte order only (libpcap swaps some link types' pseudo-headers otherwise),
        // and version 2.4 only (older versions may have the lengths swapped).
        guard magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d, major == 2, minor == 4 else { return nil }
        self.descriptor = descriptor
        self.nanosecondFile = magic == 0xa1b2_3c4d
        self.snapshot = UInt32(snapshot)
        let size = max(PcapFileBlocks.smallestBlock, min(PcapFileBlocks.blockSize, fileSize))
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    /// Gives the buffer back (the descriptor stays libpcap's).
    func release() { buffer.deallocate() }

    /// The next record, the end of the file, or why the file cannot be read further.
    @inline(__always)
    mutating func next() -> Step {
        if end - start < PcapFileBlocks.recordHeaderSize {
            if let problem = fill(PcapFileBlocks.recordHeaderSize) { return .failure(problem) }
            let available = end - start
            if available == 0 { return .end }
            if available < PcapFileBlocks.recordHeaderSize {
                return .failure("truncated dump file; tried to read \(PcapFileBlocks.recordHeaderSize) header bytes, only got \(available)")
            }
        }
        let header = UnsafeRawPointer(buffer.baseAddress!) + start
        let seconds = Int64(header.loadUnaligned(as: Int32.self))
        let fraction = Int64(header.loadUnaligned(fromByteOffset: 4, as: Int32.self))
        let captured = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let wire = header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        guard captured <= PcapFileBlocks.maximumCaptured else {
            return .failure(captured > snapshot
                ? "invalid packet capture length \(captured), bigger than snaplen of \(snapshot)"
                : "invalid packet capture length \(captured), bigger than maximum of \(PcapFileBlocks.maximumCaptured)")
        }
        let recordSize = PcapFileBlocks.recordHeaderSize + Int(captured)
        if end - start < recordSize {
            if let problem = fill(recordSize) { return .failure(problem) }
            let body = end - start - PcapFileBlocks.recordHeaderSize
            if body < Int(captured) {
                // libpcap reads up to the snapshot length first, then discards the rest.
                let first = min(captured, snapshot)
                let wanted = body < Int(first) ? first : captured
                return .failure("truncated dump file; tried to read \(wanted) captured bytes, only got \(body)")
            }
        }
        let frame = UnsafeRawBufferPointer(
            start: buffer.baseAddress! + start + PcapFileBlocks.recordHeaderSize, count: Int(min(captured, snapshot)))
        start += recordSize
        return .record(
            frame, wireLength: Int(wire), seconds: seconds, nanoseconds: nanosecondFile ? fraction : fraction * 1000)
    }

    /// Reads on until `needed` bytes are unread or the file ends; a read error's message, or nil.
    private mutating func fill(_ needed: Int) -> String? {
        if start > 0 {
            let unread = end - start
            if unread > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread) }
            start = 0
            end = unread
        }
        while !atEndOfFile && end < buffer.count {
            let got: Int
            do {
                got = try FileDescriptor.read(
                    descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), at: nextReadOffset,
                    what: "error reading dump file")
            } catch {
                // libpcap's own words for a failed read, as its reader would have said them.
                return error.description
            }
            if got == 0 { atEndOfFile = true; break }
            end += got
            nextReadOffset += Int64(got)
            if end >= needed { break }
        }
        return nil
    }
}
