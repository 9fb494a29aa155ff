#if canImport(Glibc)
import Glibc
#endif

/// Stream sockets: listening, accepting, connecting and receiving, each with a deadline.
///
/// Every descriptor made here is close-on-exec (a spawned child must not hold a server's
/// connection open) and non-blocking, so no call waits past the deadline its caller gives: waits
/// happen in `poll`, never in the call itself. Bytes go out through
/// `FileDescriptor.writeAll(_:_:to: .socket, …)`, the one write loop, which sends without SIGPIPE.
/// Deadlines are monotonic nanoseconds (`SystemClock.monotonicNanoseconds()`); a passed one fails
/// with `ETIMEDOUT`.
public enum Socket {
    /// Binds a stream socket to `address` and listens on it; the listening descriptor.
    ///
    /// A Unix socket file left by an earlier run is replaced (bind would fail on it); anything
    /// else at that path is refused with `EEXIST`. `permissions` is then given to the socket file.
    /// An IP address must be numeric: resolving a name would send a DNS query.
    ///
    /// The corresponding C functions are `socket`, `bind` and `listen`.
    public static func listen(on address: SocketAddress, backlog: Int32 = 128, permissions: UInt32? = nil)
        throws(SystemError) -> Int32
    {
        let what = "listen on \(address)"
        switch address {
        case .inet(let host, _):
            guard isNumeric(host) else { throw SystemError("\(what): '\(host)' is not a numeric IP address", code: EINVAL) }
        case .unix(let path):
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else { throw SystemError("\(what): \(path) is not a socket", code: EEXIST) }
                unlink(path)
            }
        }
        let fd = address.withSockaddr { sockaddr, length, family -> Int32 in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var one: Int32 = 1
            // A restarted server must not wait out the previous one's TIME_WAIT connections.
            if family != AF_UNIX { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
            if bind(fd, sockaddr, length) != 0 || Glibc.listen(fd, backlog) != 0 {
                let saved = errno
                Glibc.close(fd)
                errno = saved
                return -1
            }
            return fd
        }
        guard fd >= 0 else { throw SystemError(what) }
        if case .unix(let path) = address, let permissions { chmod(path, mode_t(permissions)) }
        return fd
    }

    /// Closes a listening descriptor, and removes its socket file if it listened on a Unix path.
    ///
    /// The corresponding C functions are `close` and `unlink`.
    public static func closeListener(_ descriptor: Int32, address: SocketAddress) {
        Glibc.close(descriptor)
        if case .unix(let path) = address { unlink(path) }
    }

    /// The port a listening or connected IP socket is bound to (the one the system chose for port
    /// 0); nil for a Unix socket.
    ///
    /// The corresponding C function is `getsockname`.
    public static func localPort(of descriptor: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        return withUnsafePointer(to: &storage) { pointer in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET6: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            case AF_INET: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            default: nil
            }
        }
    }

    /// Waits until a connection arrives on `listener` or `deadline` passes: the accepted
    /// descriptor (close-on-exec, non-blocking), or nil when the deadline passed first. A
    /// connection that was aborted before it was taken is skipped; running out of descriptors
    /// (`EMFILE`, `ENFILE`) is thrown, so that the caller can pause rather than spin.
    ///
    /// The corresponding C functions are `accept`, `fcntl` and `poll`.
    public static func accept(_ listener: Int32, deadline: Int64?) throws(SystemError) -> Int32? {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0 {
                // accept4 is a GNU extension Swift's Glibc leaves out. A child spawned in between
                // closes what it inherits (ChildProcess closes every descriptor above 2).
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return fd
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK:
                do throws(SystemError) {
                    try FileDescriptor.waitUntil(listener, events: Int16(POLLIN), deadline: deadline, what: "accept")
                } catch let error where error.code == ETIMEDOUT {
                    return nil
                }
            default: throw SystemError("accept")
            }
        }
    }

    /// Connects to `address` before `deadline`: the connected descriptor (close-on-exec,
    /// non-blocking).
    ///
    /// The corresponding C functions are `socket`, `connect`, `poll` and `getsockopt`.
    public static func connect(to address: SocketAddress, deadline: Int64?) throws(SystemError) -> Int32 {
        if case .inet(let host, _) = address, !isNumeric(host) {
            throw SystemError("connect to \(address): '\(host)' is not a numeric IP address", code: EINVAL)
        }
        let outcome = address.withSockaddr { sockaddr, length, family -> Result<Int32, SystemError> in
            do throws(SystemError) {
                return .success(try connect(family: family, sockaddr, length, deadline: deadline, what: "connect to \(address)"))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Resolves `host` (a name or a numeric address) and connects to the first address it has,
    /// before `deadline`: the connected descriptor (close-on-exec, non-blocking). A name that does
    /// not resolve fails with `EHOSTUNREACH`, and says the resolver's reason.
    ///
    /// The corresponding C functions are `getaddrinfo`, `socket`, `connect`, `poll` and `getsockopt`.
    public static func connect(host: String, port: UInt16, deadline: Int64?) throws(SystemError) -> Int32 {
        let what = "connect to \(host.contains(":") ? "[\(host)]" : host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw SystemError("\(what): \(String(cString: gai_strerror(status)))", code: EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        return try connect(family: first.pointee.ai_family, first.pointee.ai_addr, first.pointee.ai_addrlen, deadline: deadline, what: what)
    }

    private static func connect(
        family: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, deadline: Int64?, what: String
    ) throws(SystemError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError(what) }
        // A non-blocking connect returns at once; its outcome is read once the socket is writable.
        if Glibc.connect(fd, address, length) != 0 {
            guard errno == EINPROGRESS || errno == EINTR else {
                let error = SystemError(what)
                Glibc.close(fd)
                throw error
            }
            do throws(SystemError) {
                try FileDescriptor.waitUntil(fd, events: Int16(POLLOUT), deadline: deadline, what: what)
            } catch {
                Glibc.close(fd)
                throw error
            }
            var failure: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) != 0 { failure = errno }
            guard failure == 0 else {
                Glibc.close(fd)
                throw SystemError(what, code: failure)
            }
        }
        return fd
    }

    /// Receives what has arrived on `descriptor`, waiting for it until `deadline`: the count read,
    /// 0 when the peer closed its side.
    ///
    /// The corresponding C functions are `recv` and `poll`.
    public static func receive(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, deadline: Int64?, what: @autoclosure () -> String)
        throws(SystemError) -> Int
    {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = recv(descriptor, base, buffer.count, 0)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try FileDescriptor.waitUntil(descriptor, events: Int16(POLLIN), deadline: deadline, what: what())
            default: throw SystemError(what())
            }
        }
    }

    /// Receives into `buffer` (its whole length); see `receive(_:into:deadline:what:)`.
    public static func receive(_ descriptor: Int32, into buffer: inout [UInt8], deadline: Int64?, what: @autoclosure () -> String)
        throws(SystemError) -> Int
    {
        var failure: SystemError?
        let count = buffer.withUnsafeMutableBytes { raw -> Int in
            do throws(SystemError) { return try receive(descriptor, into: raw, deadline: deadline, what: what()) } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return count
    }

    /// Sends all of `bytes` before `deadline`, without SIGPIPE; see
    /// `FileDescriptor.writeAll(_:_:to:what:deadline:)`, which does the sending.
    public static func sendAll(_ descriptor: Int32, _ bytes: some Collection<UInt8>, deadline: Int64?, what: @autoclosure () -> String)
        throws(SystemError)
    {
        try FileDescriptor.writeAll(descriptor, bytes, to: .socket, what: what(), deadline: deadline)
    }

    /// Ends the sending side (the peer reads the end), or both sides: a thread blocked in `poll`
    /// on the descriptor wakes. The descriptor stays open until `close`.
    ///
    /// The corresponding C function is `shutdown`.
    public static func shutdown(_ descriptor: Int32, reading: Bool = true) {
        _ = Glibc.shutdown(descriptor, reading ? Int32(SHUT_RDWR) : Int32(SHUT_WR))
    }

    /// Closes a connected descriptor.
    ///
    /// The corresponding C function is `close`.
    public static func close(_ descriptor: Int32) {
        Glibc.close(descriptor)
    }

    /// Whether `host` is a numeric IPv4 or IPv6 address. The corresponding C function is `inet_pton`.
    public static func isNumeric(_ host: String) -> Bool {
        var probe = [UInt8](repeating: 0, count: 16)
        return host.withCString { inet_pton(host.contains(":") ? AF_INET6 : AF_INET, $0, &probe) } == 1
    }
}
