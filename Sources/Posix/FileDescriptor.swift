#if canImport(Glibc)
import Glibc
#endif

/// Whole reads and writes on a file descriptor: the one place a short write or an interrupted call
/// is retried. Files, pipes and sockets all go through here.
public enum FileDescriptor {
    /// How bytes go out: `write` for files and pipes; `send` with `MSG_NOSIGNAL` for a socket, so
    /// that a peer that hung up gives `EPIPE` instead of killing this process with SIGPIPE.
    public enum Channel: Sendable {
        case file
        case socket
    }

    /// Writes all of `bytes` to `descriptor`, retrying short writes and `EINTR`. `what` names the
    /// destination in the error (`"write /var/lib/telltale/x"`). On a non-blocking descriptor,
    /// `EAGAIN` waits for room with `poll` until `deadline` (monotonic nanoseconds; nil: no limit),
    /// then fails with `ETIMEDOUT`.
    ///
    /// The corresponding C functions are `write`, `send` and `poll`.
    public static func writeAll(
        _ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, to channel: Channel = .file, what: @autoclosure () -> String,
        deadline: Int64? = nil
    ) throws(SystemError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written: Int
            switch channel {
            case .file: written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            case .socket: written = Glibc.send(descriptor, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try waitUntil(descriptor, events: Int16(POLLOUT), deadline: deadline, what: what())
                continue
            }
            throw SystemError(what(), code: written == 0 ? EIO : errno)
        }
    }

    /// Writes all of `bytes`; see `writeAll(_:_:to:what:deadline:)`.
    public static func writeAll(
        _ descriptor: Int32, _ bytes: some Collection<UInt8>, to channel: Channel = .file, what: @autoclosure () -> String,
        deadline: Int64? = nil
    ) throws(SystemError) {
        var failure: SystemError?
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            do throws(SystemError) { try writeAll(descriptor, UnsafeRawBufferPointer(buffer), to: channel, what: what(), deadline: deadline) } catch {
                failure = error
            }
        }
        if done == nil {
            Array(bytes).withUnsafeBytes { raw in
                do throws(SystemError) { try writeAll(descriptor, raw, to: channel, what: what(), deadline: deadline) } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    /// Reads once into `buffer`, retrying `EINTR`: the count read, 0 at the end. `what` names the
    /// source in the error.
    ///
    /// The corresponding C function is `read`.
    public static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String)
        throws(SystemError) -> Int
    {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = Glibc.read(descriptor, base, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw SystemError(what())
        }
    }

    /// Reads once into `buffer` from `offset` in the file, retrying `EINTR`, without moving the
    /// file's position: the count read, 0 at the end. `what` names the source in the error.
    ///
    /// The corresponding C function is `pread`.
    public static func read(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, what: @autoclosure () -> String
    ) throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = pread(descriptor, base, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw SystemError(what())
        }
    }

    /// Reads `descriptor` to its end, at most `limit` bytes (more fails with `EFBIG`).
    ///
    /// The corresponding C function is `read`.
    public static func readAll(_ descriptor: Int32, limit: Int = .max, what: @autoclosure () -> String) throws(SystemError)
        -> [UInt8]
    {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            var failure: SystemError?
            let count = chunk.withUnsafeMutableBytes { raw -> Int in
                do throws(SystemError) { return try read(descriptor, into: raw, what: what()) } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            if count == 0 { return data }
            guard data.count + count <= limit else { throw SystemError(what(), code: EFBIG) }
            data += chunk[0..<count]
        }
    }

    /// Waits with `poll` until `descriptor` is ready for `events` or `deadline` (monotonic
    /// nanoseconds; nil: no limit) passes, which fails with `ETIMEDOUT`.
    ///
    /// The corresponding C function is `poll`.
    public static func waitUntil(_ descriptor: Int32, events: Int16, deadline: Int64?, what: @autoclosure () -> String)
        throws(SystemError)
    {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline - SystemClock.monotonicNanoseconds()
                guard left > 0 else { throw SystemError(what(), code: ETIMEDOUT) }
                timeout = Int32(clamping: left / 1_000_000 + 1)
            }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, timeout)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw SystemError(what()) }
        }
    }
}
