import CPcap
public import PacketParsing
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Owns one `pcap_t`: a live capture on an interface or an opened capture file.
///
/// The only file that touches libpcap pointers. Not thread-safe: one thread reads it; `breakLoop()`
/// is the one call that another thread may make.
public final class PcapHandle {
    /// The interface or file name, for messages.
    public let source: String
    public let linkType: LinkType
    /// Whether timestamps come in nanoseconds (else microseconds).
    private let nanosecondTimestamps: Bool
    /// Whether this reads a capture file (whose end `dispatch` reports) rather than an interface.
    private let isFile: Bool
    // Non-nil from a successful open until deinit; libpcap owns the memory it points to.
    private let handle: OpaquePointer
    /// Records delivered by `dispatch` so far, to name a damaged one.
    private var recordsRead = 0
    /// A classic pcap file's records read in blocks (nil: libpcap reads them).
    private var fileBlocks: PcapFileBlocks?
    /// Set by `breakLoop()`, for reads that do not go through libpcap.
    private let interruption = Atomic<Bool>(false)

    /// What one call to `dispatch` read.
    public enum ReadResult: Equatable, Sendable {
        /// Read this many packets (zero: nothing waiting on a live capture).
        case packets(Int)
        /// End of a capture file.
        case endOfFile
        /// `breakLoop()` was called.
        case interrupted
    }

    private init(source: String, handle: OpaquePointer, nanoseconds: Bool, isFile: Bool = false) {
        self.source = source
        self.isFile = isFile
        self.handle = handle
        self.nanosecondTimestamps = nanoseconds
        self.linkType = LinkType(dataLinkType: pcap_datalink(handle))
    }

    deinit {
        fileBlocks?.release()
        pcap_close(handle)
    }

    /// Opens a pcap or pcapng file for reading with nanosecond timestamps.
    ///
    /// The corresponding C function is `pcap_open_offline_with_tstamp_precision`.
    /// Refuses anything but a regular file: libpcap's own open of a FIFO blocks until a writer comes.
    ///
    /// The corresponding C functions are `open`, `fstat`, `fdopen` and `pcap_fopen_offline_with_tstamp_precision`.
    public static func openFile(_ path: String) throws(CaptureError) -> PcapHandle {
        // O_NONBLOCK so that opening a FIFO returns at once; fstat then says what was opened.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CaptureError(.open, source: path, cause: SystemError("open \(path)"))
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let failure = SystemError("fstat \(path)")
            close(descriptor)
            throw CaptureError(.open, source: path, cause: failure)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            let kind = switch info.st_mode & S_IFMT {
            case S_IFIFO: "a FIFO"
            case S_IFDIR: "a directory"
            case S_IFCHR: "a character device"
            case S_IFSOCK: "a socket"
            default: "of another kind"
            }
            throw CaptureError(.open, source: path, message: "is \(kind), not a regular capture file: refused")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        guard let stream = fdopen(descriptor, "rb") else {
            let failure = SystemError("fdopen \(path)")
            close(descriptor)
            throw CaptureError(.open, source: path, cause: failure)
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        // On success libpcap owns the stream and closes it in pcap_close; on failure it is ours.
        guard let opened = pcap_fopen_offline_with_tstamp_precision(
            stream, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer)
        else {
            fclose(stream)
            throw CaptureError(.open, source: path, message: String(cString: errorBuffer))
        }
        let handle = PcapHandle(source: path, handle: opened, nanoseconds: true, isFile: true)
        handle.fileBlocks = PcapFileBlocks(
            descriptor: descriptor, fileSize: Int(info.st_size), snapshot: pcap_snapshot(opened),
            dataLinkType: pcap_datalink(opened))
        return handle
    }

    /// Options for a live capture.
    public struct LiveOptions: Sendable {
        /// Bytes kept of each frame: all headers plus DNS messages and TLS/QUIC handshakes.
        public var snapLength: Int32 = 8192
        /// Kernel ring size; larger rides out bursts without drops. The kernel maps every page of it
        /// at once, so all of it is resident from the start, idle or not. With payload trimmed
        /// (`trimsPayload`) a frame takes a few hundred bytes of it: 4 MiB (twice tcpdump's default)
        /// held `bench/capture-rate.sh`'s streams and bursts without a drop.
        public var bufferSize: Int32 = 4 << 20
        public var promiscuous = false
        /// A BPF expression (tcpdump syntax); nil captures everything.
        public var filter: String?
        /// Hand each packet over at once (a wakeup of the reader per packet, paid by the sender), or
        /// in blocks the kernel retires when full or after `blockTimeout` milliseconds (a wakeup per
        /// block). Immediate suits attribution by polling, which must look while a socket exists.
        public var immediate = true
        public var blockTimeout: Int32 = 20
        /// Keep whole only the packets naming may need, and the headers of the rest (see
        /// `SnapProgram`): bulk payload is then never copied into the ring.
        public var trimsPayload = true
        public init() {}
    }

    /// Starts a live capture in non-blocking mode (poll `selectableDescriptor`), immediate or in blocks.
    ///
    /// The corresponding C functions are `pcap_create`, `pcap_activate` and `pcap_setnonblock`.
    public static func openLive(_ interface: String, options: LiveOptions = LiveOptions()) throws(CaptureError) -> PcapHandle {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let created = pcap_create(interface, &errorBuffer) else {
            throw CaptureError(.open, source: interface, message: String(cString: errorBuffer))
        }
        pcap_set_snaplen(created, options.snapLength)
        pcap_set_promisc(created, options.promiscuous ? 1 : 0)
        if options.immediate {
            pcap_set_immediate_mode(created, 1)
        } else {
            pcap_set_timeout(created, options.blockTimeout)
        }
        pcap_set_buffer_size(created, options.bufferSize)
        let nano = pcap_set_tstamp_precision(created, PCAP_TSTAMP_PRECISION_NANO) == 0
        let status = pcap_activate(created)
        if status < 0 {
            let message = String(cString: pcap_geterr(created))
            pcap_close(created)
            switch status {
            case PCAP_ERROR_NO_SUCH_DEVICE: throw CaptureError(.noSuchDevice, source: interface, message: message)
            case PCAP_ERROR_PERM_DENIED: throw CaptureError(.permissionDenied, source: interface, message: message)
            default: throw CaptureError(.activate, source: interface, message: message)
            }
        }
        // The cooked v2 header of `any` carries each packet's interface, which tells a routed packet's
        // copies apart; v1 does not.
        if pcap_datalink(created) == 113 { _ = pcap_set_datalink(created, 276) }
        let handle = PcapHandle(source: interface, handle: created, nanoseconds: nano)
        if pcap_setnonblock(created, 1, &errorBuffer) != 0 {
            throw CaptureError(.activate, source: interface, message: String(cString: errorBuffer))
        }
        if let filter = options.filter {
            // A filter of the user's goes through libpcap, which fits it to cooked captures; packets
            // are then kept whole.
            try handle.setFilter(filter)
        } else if options.trimsPayload {
            // Cooked sockets hand the kernel's filter the packet from its network header on, and
            // libpcap adds the cooked header after the cut.
            let cooked = handle.linkType == .linuxCooked || handle.linkType == .linuxCookedV2
            if let snap = SnapProgram.instructions(
                linkType: cooked ? .raw : handle.linkType, snapLength: UInt32(max(options.snapLength, 0))) {
                try handle.attachToSocket(snap)
            }
        }
        return handle
    }

    /// Attaches a classic BPF program to the capture's socket directly, behind libpcap: libpcap
    /// never runs it again on the packets it already cut (its own filter would, on packets already in
    /// the ring, and reject every one whose cut removed a byte the program reads).
    ///
    /// The corresponding C function is `setsockopt` with `SO_ATTACH_FILTER`.
    func attachToSocket(_ instructions: [FilterInstruction]) throws(CaptureError) {
        var raw = instructions.map { sock_filter(code: $0.code, jt: $0.jumpTrue, jf: $0.jumpFalse, k: $0.value) }
        let status = raw.withUnsafeMutableBufferPointer { buffer in
            var program = sock_fprog(len: UInt16(buffer.count), filter: buffer.baseAddress)
            // The kernel copies the program; the buffer only has to live for the call.
            return setsockopt(pcap_get_selectable_fd(handle), SOL_SOCKET, SO_ATTACH_FILTER, &program,
                              socklen_t(MemoryLayout<sock_fprog>.size))
        }
        guard status == 0 else {
            throw CaptureError(
                .filter, source: source, cause: SystemError("attach the snap program to \(source)"),
                context: "cannot attach the snap program")
        }
    }

    /// What a program returns for a frame (its snap length; 0 rejects), as libpcap's own interpreter
    /// runs it on the frame as captured.
    ///
    /// The corresponding C function is `bpf_filter`.
    public static func evaluate(_ instructions: [FilterInstruction], frame: [UInt8], wireLength: Int? = nil) -> UInt32 {
        let raw = instructions.map { bpf_insn(code: $0.code, jt: $0.jumpTrue, jf: $0.jumpFalse, k: $0.value) }
        return raw.withUnsafeBufferPointer { program in
            frame.withUnsafeBufferPointer { bytes in
                bpf_filter(program.baseAddress, bytes.baseAddress, UInt32(wireLength ?? frame.count), UInt32(frame.count))
            }
        }
    }

    /// Compiles and installs a BPF filter expression.
    ///
    /// The corresponding C functions are `pcap_compile` and `pcap_setfilter`.
    public func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw CaptureError(.filter, source: source, message: String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw CaptureError(.filter, source: source, message: String(cString: pcap_geterr(handle)))
        }
    }

    /// The descriptor to poll for readability (live captures), or -1.
    public var selectableDescriptor: Int32 { pcap_get_selectable_fd(handle) }

    /// Reads up to `limit` packets, calling `body` with each frame's captured bytes, its wire length
    /// and its timestamp in nanoseconds. The bytes are valid only during the call.
    ///
    /// The corresponding C function is `pcap_dispatch`.
    public func dispatch(
        limit: Int32, _ body: (UnsafeRawBufferPointer, Int, Int64) -> Void
    ) throws(CaptureError) -> ReadResult {
        if fileBlocks != nil { return try readBlocks(limit: limit, body) }
        let scale: Int64 = nanosecondTimestamps ? 1 : 1000
        let (result, delivered, damage): (Int32, Int, String?) = withoutActuallyEscaping(body) { escapable in
            var context = DispatchContext(body: escapable, scale: scale, handle: handle, delivered: recordsRead)
            let result = withUnsafeMutablePointer(to: &context) { contextPointer in
                contextPointer.withMemoryRebound(to: UInt8.self, capacity: 1) { user in
                    pcap_dispatch(handle, limit, { user, header, bytes in
                        // libpcap passes back the pointer given below, to a context alive for this call.
                        guard let user, let header, let bytes else { return }
                        let context = UnsafeMutableRawPointer(user).assumingMemoryBound(to: DispatchContext.self)
                        guard context.pointee.damage == nil else { return }
                        let h = header.pointee
                        guard let timestamp = PcapHandle.nanoseconds(
                            seconds: Int64(h.ts.tv_sec), fraction: Int64(h.ts.tv_usec), scale: context.pointee.scale)
                        else {
                            // A file's record can claim any time; one past what signed nanoseconds
                            // hold ends the read here, with the records before it delivered.
                            context.pointee.damage = "record \(context.pointee.delivered + 1) has a timestamp"
                                + " (\(h.ts.tv_sec) s) past the year 2262, the latest time Telltale can represent"
                            pcap_breakloop(context.pointee.handle)
                            return
                        }
                        context.pointee.delivered += 1
                        let frame = UnsafeRawBufferPointer(start: bytes, count: Int(h.caplen))
                        context.pointee.body(frame, Int(h.len), timestamp)
                    }, user)
                }
            }
            return (result, context.delivered, context.damage)
        }
        recordsRead = delivered
        if let damage {
            throw CaptureError(.damaged, source: source, message: damage)
        }
        switch result {
        case PCAP_ERROR_BREAK:
            return .interrupted
        case let count where count < 0:
            let message = String(cString: pcap_geterr(handle))
            let kind: CaptureError.Kind = message.contains("truncated") ? .truncated : .read
            throw CaptureError(kind, source: source, message: message)
        case 0 where isFile:
            // A file's descriptor is selectable too (libpcap hands out its fileno), so only the
            // handle's kind tells the end of a file from an idle interface.
            return .endOfFile
        default:
            return .packets(Int(result))
        }
    }

    /// `dispatch` for a file read in blocks: the same results, errors and messages as libpcap's.
    private func readBlocks(limit: Int32, _ body: (UnsafeRawBufferPointer, Int, Int64) -> Void) throws(CaptureError) -> ReadResult {
        // Taken out of the property for the loop: one access to it per call, not one per record.
        guard var blocks = fileBlocks else { return .endOfFile }
        fileBlocks = nil
        defer { fileBlocks = blocks }
        var delivered = 0
        while limit <= 0 || delivered < Int(limit) {
            if interruption.load(ordering: .relaxed) {
                interruption.store(false, ordering: .relaxed)
                return .interrupted
            }
            switch blocks.next() {
            case .record(let frame, let wireLength, let seconds, let fraction):
                guard let timestamp = PcapHandle.nanoseconds(seconds: seconds, fraction: fraction, scale: 1) else {
                    throw CaptureError(.damaged, source: source, message: "record \(recordsRead + 1) has a timestamp"
                        + " (\(seconds) s) past the year 2262, the latest time Telltale can represent")
                }
                recordsRead += 1
                delivered += 1
                body(frame, wireLength, timestamp)
            case .end:
                return delivered > 0 ? .packets(delivered) : .endOfFile
            case .failure(let message):
                throw CaptureError(message.contains("truncated") ? .truncated : .read, source: source, message: message)
            }
        }
        return .packets(delivered)
    }

    private struct DispatchContext {
        let body: (UnsafeRawBufferPointer, Int, Int64) -> Void
        let scale: Int64
        let handle: OpaquePointer
        /// Records handed to `body` so far, from the handle's first read.
        var delivered = 0
        /// Why the read stopped early, set by the callback.
        var damage: String?
    }

    /// Nanoseconds since the epoch from a record's seconds and fraction (`scale` nanoseconds per
    /// fraction unit), or nil when they do not fit in an `Int64` (past the year 2262 or before 1677).
    static func nanoseconds(seconds: Int64, fraction: Int64, scale: Int64) -> Int64? {
        let (whole, overflow1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (part, overflow2) = fraction.multipliedReportingOverflow(by: scale)
        let (sum, overflow3) = whole.addingReportingOverflow(part)
        return overflow1 || overflow2 || overflow3 ? nil : sum
    }

    /// Makes a blocked or looping `dispatch` return `.interrupted`. Safe from another thread.
    ///
    /// The corresponding C function is `pcap_breakloop`.
    public func breakLoop() {
        interruption.store(true, ordering: .relaxed)
        pcap_breakloop(handle)
    }

    /// Packets received and dropped so far (live captures); nil for files.
    ///
    /// The corresponding C function is `pcap_stats`.
    public func statistics() -> CaptureStatistics? {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return CaptureStatistics(
            received: UInt64(stats.ps_recv), dropped: UInt64(stats.ps_drop),
            interfaceDropped: UInt64(stats.ps_ifdrop))
    }

    /// The library's version string.
    public static var libraryVersion: String { String(cString: pcap_lib_version()) }

    /// The interfaces libpcap can capture on, with their IP addresses.
    ///
    /// The corresponding C function is `pcap_findalldevs`.
    public static func interfaces() throws(CaptureError) -> [NetworkInterface] {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errorBuffer) == 0 else {
            throw CaptureError(.open, source: "interface list", message: String(cString: errorBuffer))
        }
        defer { pcap_freealldevs(list) }
        var result: [NetworkInterface] = []
        var cursor = list
        while let device = cursor {
            let d = device.pointee
            var addresses: [String] = []
            var addressCursor = d.addresses
            while let entry = addressCursor {
                if let sockaddrPointer = entry.pointee.addr, let text = Self.addressText(sockaddrPointer) {
                    addresses.append(text)
                }
                addressCursor = entry.pointee.next
            }
            result.append(NetworkInterface(
                name: String(cString: d.name), isLoopback: d.flags & UInt32(PCAP_IF_LOOPBACK) != 0,
                isUp: d.flags & UInt32(PCAP_IF_UP) != 0, isRunning: d.flags & UInt32(PCAP_IF_RUNNING) != 0,
                addresses: addresses))
            cursor = d.next
        }
        return result
    }

    private static func addressText(_ address: UnsafeMutablePointer<sockaddr>) -> String? {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                let value = UInt32(bigEndian: v4.pointee.sin_addr.s_addr)
                return IPAddress(v4: value).description
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                withUnsafeBytes(of: v6.pointee.sin6_addr) { IPAddress(bytes: $0)?.description }
            }
        default:
            return nil
        }
    }
}
