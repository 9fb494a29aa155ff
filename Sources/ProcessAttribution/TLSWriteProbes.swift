import CBPF
import Foundation
import PacketParsing
import Posix
import Synchronization

/// The plaintext processes hand to OpenSSL to send: uprobes on `SSL_write` and `SSL_write_ex`
/// (`bpf/tls_writes.bpf.c`, built into this module), attached per file, copy each successful
/// write's bytes into a ring buffer. The only file touching the TLS probes' libbpf pointers.
///
/// A uprobe lands on a file's inode: it fires in every process mapping that file, including ones
/// started later and ones in other mount namespaces, but a copy of the library elsewhere (a
/// container's root, a vendored static OpenSSL) needs its own `attach(file:)`;
/// `TLSLibraryScanner` finds those files. Creating uprobes needs CAP_SYS_ADMIN.
///
/// Threading: every call holds one lock, so `poll(timeout:)` makes an `attach(file:)` from
/// another thread wait up to its timeout; keep timeouts to tens of milliseconds. The bytes are
/// what processes send to the network in clear before encryption: never log them.
public final class TLSWriteProbes: Sendable {
    /// Why the probes could not be loaded: one line for the log, and the errno.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var reason: String
        /// The errno the loader failed with (positive).
        public var code: Int32
        public var description: String { reason }
    }

    /// What `attach(file:)` did.
    public enum AttachResult: Equatable, Sendable {
        /// `probes` of the 4 probes (entry and return of each function) were attached: 2 when the
        /// file has only `SSL_write`.
        case attached(probes: Int)
        /// This file (device and inode) was attached before.
        case alreadyAttached
        /// The file has neither `SSL_write` nor `SSL_write_ex`.
        case noFunctions
        /// The file could not be probed: why, in one line.
        case failed(String)
    }

    /// The loaded object, its ring buffer and the records buffer. Every use holds the mutex.
    private final class Handle: @unchecked Sendable {
        // Safe: only used while `TLSWriteProbes.handle`'s mutex is held, and closed exactly once.
        var pointer: OpaquePointer?
        let records: UnsafeMutablePointer<telltale_tls_record>
        let capacity = 64
        /// Device and inode of every file attached.
        var attached: Set<FileKey> = []
        /// Wall clock minus monotonic clock, in nanoseconds: record times are monotonic.
        var clockOffset: Int64
        var clockOffsetTaken: Int64

        init(_ pointer: OpaquePointer) {
            self.pointer = pointer
            records = UnsafeMutablePointer<telltale_tls_record>.allocate(capacity: capacity)
            clockOffsetTaken = SystemClock.monotonicNanoseconds()
            clockOffset = SystemClock.wallNanoseconds() - clockOffsetTaken
        }

        deinit {
            if let pointer { telltale_tls_close(pointer) }
            records.deallocate()
        }
    }

    private struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private let handle: Mutex<Handle>

    private init(_ pointer: OpaquePointer) {
        handle = Mutex(Handle(pointer))
    }

    /// Loads the probes' programs and attaches the socket tracepoint; no file is probed yet.
    /// Throws a one-line reason when the kernel or the permissions refuse: without CAP_SYS_ADMIN
    /// the reason says uprobes need it. The corresponding C function is `telltale_tls_open`.
    public static func load() throws(LoadError) -> TLSWriteProbes {
        guard let object = Data(base64Encoded: tlsWritesObject) else {
            throw LoadError(reason: "the built-in TLS probe object is damaged", code: EINVAL)
        }
        var failure = telltale_failure()
        var pointer: OpaquePointer?
        let status = object.withUnsafeBytes { bytes in
            telltale_tls_open(bytes.baseAddress, bytes.count, &pointer, &failure)
        }
        guard status == 0, let pointer else {
            let message = failure.text
            let code = status < 0 ? -status : EINVAL
            if code == EPERM || code == EACCES {
                let detail = message.contains("CAP_SYS_ADMIN") ? message : "\(message) (uprobes need CAP_SYS_ADMIN)"
                throw LoadError(reason: detail, code: code)
            }
            throw LoadError(reason: message.isEmpty ? SystemError("loading the TLS probes failed", code: code).description : message, code: code)
        }
        return TLSWriteProbes(pointer)
    }

    deinit { close() }

    /// Attaches the probes to the file at `path` once per file identity (device and inode), so the
    /// same library reached through two paths (`/proc/PID/root/...`, `/proc/PID/map_files/...`) is
    /// probed once. The corresponding C function is `telltale_tls_attach`.
    public func attach(file path: String) -> AttachResult {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failed("cannot probe \(path): \(SystemError("stat", code: errno).message)")
        }
        let key = FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        return handle.withLock { handle -> AttachResult in
            guard let pointer = handle.pointer else { return .failed("the TLS probes are closed") }
            if handle.attached.contains(key) { return .alreadyAttached }
            var failure = telltale_failure()
            let status = telltale_tls_attach(pointer, path, &failure)
            if status > 0 {
                handle.attached.insert(key)
                return .attached(probes: Int(status))
            }
            if status == -ENOENT {
                // Remembered too: the file will not grow the functions.
                handle.attached.insert(key)
                return .noFunctions
            }
            let message = failure.text
            return .failed(message.isEmpty ? SystemError("cannot probe \(path)", code: -status).description : message)
        }
    }

    /// The records waiting, oldest first; waits up to `milliseconds` when none is (0: do not wait).
    /// The kernel side wakes a waiting reader only once 64 KiB are waiting, so a few records may
    /// come only at the timeout. The corresponding C function is `telltale_tls_poll`.
    public func poll(timeout milliseconds: Int32) -> [TLSWrite] {
        handle.withLock { handle -> [TLSWrite] in
            guard let pointer = handle.pointer else { return [] }
            let now = SystemClock.monotonicNanoseconds()
            if now - handle.clockOffsetTaken > 10_000_000_000 {
                // The wall clock may be stepped (NTP): keep the conversion current.
                handle.clockOffset = SystemClock.wallNanoseconds() - now
                handle.clockOffsetTaken = now
            }
            var writes: [TLSWrite] = []
            var timeout = milliseconds
            while true {
                let count = telltale_tls_poll(pointer, handle.records, Int32(handle.capacity), timeout)
                guard count > 0 else { break }
                for i in 0..<Int(count) {
                    writes.append(TLSWriteProbes.decode(handle.records[i], clockOffset: handle.clockOffset))
                }
                if Int(count) < handle.capacity { break }
                timeout = 0
            }
            return writes
        }
    }

    /// Records lost because the ring was full (counted by the programs).
    public var dropped: Int64 { counter(Int32(TELLTALE_TLS_COUNTER_DROPPED)) }

    /// Writes that returned failure (not copied: an entry probe alone sees attempts).
    public var failedWrites: Int64 { counter(Int32(TELLTALE_TLS_COUNTER_FAILED)) }

    /// Writes whose start could not be remembered (more threads inside `SSL_write` than the map holds).
    public var untrackedWrites: Int64 { counter(Int32(TELLTALE_TLS_COUNTER_UNTRACKED)) }

    /// Probes attached so far (4 per file with both functions).
    public var probeCount: Int {
        handle.withLock { handle in handle.pointer.map { Int(telltale_tls_probe_count($0)) } ?? 0 }
    }

    /// Detaches every probe and frees the programs. Later calls find nothing. Idempotent.
    public func close() {
        handle.withLock { handle in
            if let pointer = handle.pointer { telltale_tls_close(pointer) }
            handle.pointer = nil
        }
    }

    private func counter(_ which: Int32) -> Int64 {
        handle.withLock { handle in handle.pointer.map { Int64(clamping: telltale_tls_counter($0, which)) } ?? 0 }
    }

    private static func decode(_ record: telltale_tls_record, clockOffset: Int64) -> TLSWrite {
        let header = record.header
        let length = min(Int(header.length), TLSWrite.chunkLimit)
        let bytes = withUnsafeBytes(of: record.data) { Array($0.prefix(length)) }
        var socket: TLSWrite.Socket?
        if header.flags & UInt32(TELLTALE_TLS_FLAG_SOCKET) != 0 {
            let v6 = header.family == 10
            socket = TLSWrite.Socket(
                localAddress: address(header.local_addr, v6: v6), localPort: header.local_port,
                remoteAddress: address(header.remote_addr, v6: v6), remotePort: header.remote_port,
                ipProtocol: UInt8(truncatingIfNeeded: header.protocol), netns: UInt64(header.netns))
        }
        return TLSWrite(
            pid: Int32(bitPattern: header.tgid), thread: Int32(bitPattern: header.tid),
            time: Int64(clamping: header.time_ns) + clockOffset, connection: header.ssl,
            totalLength: header.total_length, offset: UInt64(header.offset), bytes: bytes, socket: socket,
            extended: header.flags & UInt32(TELLTALE_TLS_FLAG_EX) != 0,
            unreadable: header.flags & UInt32(TELLTALE_TLS_FLAG_UNREADABLE) != 0)
    }

    private static func address(_ bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8), v6: Bool) -> IPAddress {
        withUnsafeBytes(of: bytes) { raw in
            IPAddress(bytes: v6 ? Array(raw) : Array(raw.prefix(4))) ?? IPAddress(v4: 0)
        }
    }
}
