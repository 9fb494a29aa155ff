import CBPF
import Foundation
public import Logging
public import PacketParsing
import Posix
import Synchronization

/// Socket events from the kernel: small BPF programs (`bpf/socket_events.bpf.c`, built into this
/// module) report, in the sending or receiving process's own context, which process used which
/// socket, and which program each process runs. The only file touching libbpf's pointers.
///
/// Threading: a reader thread empties the ring buffer when the programs wake it (each time
/// another 64 KiB of events wait, so an event costs no wakeup of its own) or every `pollInterval`
/// milliseconds; `drain()` empties it on demand from any thread, so a lookup sees every event up
/// to now. Waiting never holds the ring (a lookup must not queue behind a sleeping reader).
/// Events go into one `SocketEventIndex`, read through `withIndex`.
public final class KernelSocketEvents: Sendable {
    /// Why the programs could not be loaded: one line for the log.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var reason: String
        public var description: String { reason }
    }

    /// The loaded programs and their ring buffer. Every use holds the mutex.
    private final class Handle: @unchecked Sendable {
        // Safe: only used while `KernelSocketEvents.handle`'s mutex is held, and closed exactly once.
        var pointer: OpaquePointer?
        var buffer: UnsafeMutablePointer<telltale_event>
        let capacity = 512
        init(_ pointer: OpaquePointer) {
            self.pointer = pointer
            buffer = UnsafeMutablePointer<telltale_event>.allocate(capacity: capacity)
        }
        deinit {
            if let pointer { telltale_bpf_close(pointer) }
            buffer.deallocate()
        }
    }

    private let handle: Mutex<Handle>
    private let index = Mutex(SocketEventIndex())
    private let stopping = Atomic<Bool>(false)
    private let received = Atomic<Int64>(0)
    /// Wall-clock nanoseconds when the latest full read of the ring began.
    private let readStart = Atomic<Int64>(0)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    /// Wall clock minus monotonic clock, in nanoseconds: event times are monotonic.
    private let clockOffset = Atomic<Int64>(0)
    private let ticksPerSecond: UInt64
    /// How often the reader empties the ring when the programs do not wake it first, in milliseconds.
    public let pollInterval: Int32 = 100

    /// Loads and attaches the programs. Throws a one-line reason when the kernel or the permissions
    /// refuse (not root, no CAP_BPF/CAP_PERFMON, no BTF, a kernel without these tracepoints).
    public init() throws(LoadError) {
        guard let object = Data(base64Encoded: socketEventsObject) else {
            throw LoadError(reason: "the built-in BPF object is damaged")
        }
        var failure = telltale_failure()
        var pointer: OpaquePointer?
        let status = object.withUnsafeBytes { bytes in
            telltale_bpf_open(bytes.baseAddress, bytes.count, &pointer, &failure)
        }
        guard status == 0, let pointer else {
            let message = failure.text
            throw LoadError(reason: message.isEmpty ? SystemError("loading the BPF programs failed", code: -status).description : message)
        }
        handle = Mutex(Handle(pointer))
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        ticksPerSecond = ticks > 0 ? UInt64(ticks) : 100
        clockOffset.store(KernelSocketEvents.currentOffset(), ordering: .relaxed)
    }

    deinit { stop() }

    /// Starts the reader thread.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Safe to use outside the lock: the handle is closed only in `stop()`, after this thread ended.
        nonisolated(unsafe) let pointer = handle.withLock { $0.pointer }
        let thread = Thread { [self] in
            var lastOffset = SystemClock.monotonicNanoseconds()
            while !stopping.load(ordering: .acquiring) {
                read()
                if let pointer { _ = telltale_bpf_wait(pointer, pollInterval) }
                let now = SystemClock.monotonicNanoseconds()
                if now - lastOffset > 10_000_000_000 {
                    // The wall clock may be stepped (NTP): keep the conversion current.
                    clockOffset.store(KernelSocketEvents.currentOffset(), ordering: .relaxed)
                    lastOffset = now
                }
            }
            finished.signal()
        }
        thread.name = "telltale-socket-events"
        thread.start()
    }

    /// Stops the reader and detaches the programs.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if started.load(ordering: .acquiring) { finished.wait() }
        handle.withLock { handle in
            if let pointer = handle.pointer { telltale_bpf_close(pointer) }
            handle.pointer = nil
        }
    }

    /// Reads every event the ring holds now, without waiting.
    public func drain() {
        read()
    }

    /// Events lost because the ring was full (counted by the programs).
    public var dropped: Int64 {
        handle.withLock { handle in handle.pointer.map { Int64(clamping: telltale_bpf_dropped($0)) } ?? 0 }
    }

    /// When the latest full read of the ring began (wall-clock nanoseconds): every event up to then
    /// is in the index once the read is done.
    public var readUpTo: Int64 { readStart.load(ordering: .acquiring) }

    /// Events read since the start.
    public var eventsReceived: Int64 { received.load(ordering: .relaxed) }

    /// Runs `body` with the index, under its lock.
    public func withIndex<T>(_ body: (inout SocketEventIndex) -> T) -> T {
        index.withLock { body(&$0) }
    }

    /// Empties the ring into the index, without waiting.
    private func read() {
        var events: [SocketEvent] = []
        handle.withLock { handle in
            guard let pointer = handle.pointer else { return }
            let started = SystemClock.wallNanoseconds()
            while true {
                let count = telltale_bpf_poll(pointer, handle.buffer, Int32(handle.capacity), 0)
                guard count > 0 else { break }
                for i in 0..<Int(count) {
                    if let event = decode(handle.buffer[i]) { events.append(event) }
                }
                if Int(count) < handle.capacity { break }
            }
            readStart.store(started, ordering: .releasing)
        }
        guard !events.isEmpty else { return }
        received.add(Int64(events.count), ordering: .relaxed)
        index.withLock { index in
            for event in events { index.apply(event) }
        }
    }

    private func decode(_ raw: telltale_event) -> SocketEvent? {
        let kind: SocketEvent.Kind
        switch Int32(raw.kind) {
        case Int32(TELLTALE_EVENT_SOCKET):
            guard let operation = SocketEvent.Operation(rawValue: raw.op) else { return nil }
            kind = .socket(operation)
        case Int32(TELLTALE_EVENT_EXEC):
            kind = .exec
        default:
            return nil
        }
        let socketClass: SocketEvent.SocketClass
        if raw.family == 17 {
            socketClass = .packet
        } else if raw.socket_type == 3 {  // SOCK_RAW
            socketClass = .rawIP
        } else {
            socketClass = .ported
        }
        let v6 = raw.family == 10
        var comm = raw.comm
        var path = raw.path
        return SocketEvent(
            kind: kind, socketClass: socketClass, pid: Int32(bitPattern: raw.tgid),
            startTime: raw.start_time_ns / (1_000_000_000 / ticksPerSecond), ppid: Int32(bitPattern: raw.ppid),
            comm: KernelSocketEvents.string(&comm), netns: UInt64(raw.netns), cookie: raw.cookie,
            time: Int64(clamping: raw.time_ns) + clockOffset.load(ordering: .relaxed),
            ipProtocol: UInt8(truncatingIfNeeded: raw.protocol),
            localAddress: KernelSocketEvents.address(raw.local_addr, v6: v6), localPort: raw.local_port,
            remoteAddress: KernelSocketEvents.address(raw.remote_addr, v6: v6), remotePort: raw.remote_port,
            bytes: raw.bytes, path: kind == .exec ? KernelSocketEvents.string(&path) : nil)
    }

    private static func address(_ bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8), v6: Bool) -> IPAddress {
        withUnsafeBytes(of: bytes) { raw in
            IPAddress(bytes: v6 ? Array(raw) : Array(raw.prefix(4))) ?? IPAddress(v4: 0)
        }
    }

    private static func string<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func currentOffset() -> Int64 {
        SystemClock.wallNanoseconds() - SystemClock.monotonicNanoseconds()
    }
}
