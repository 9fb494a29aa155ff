public import Posix
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Serves the latest metrics text over HTTP on a loopback port or a Unix socket, for a Prometheus
/// that scrapes the daemon directly. One thread serves up to `Limits.maximumConnections` at once,
/// without blocking on any: each exchange has two seconds from its accept, however its client
/// trickles, and a full house gives way to the newcomer.
///
/// Only loopback addresses and Unix sockets are accepted: the metrics name programs and their
/// traffic, and the daemon takes no traffic from the network.
public final class MetricsServer: Sendable {
    public let address: SocketAddress
    private let listener: Int32
    private let text = Mutex("")
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    /// Requests answered since the start.
    private let served = Atomic<Int64>(0)

    public let limits: Limits

    public init(address: SocketAddress, limits: Limits = Limits()) throws(ExportError) {
        self.limits = limits
        guard address.isLocal else {
            throw ExportError("metrics.listen '\(address)'", "only a loopback address (127.0.0.1, ::1) or unix:/path is served")
        }
        self.address = address
        if case .unix(let path) = address {
            // A socket file left by a previous run would make bind fail; anything else there is refused.
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else {
                    throw ExportError("metrics.listen '\(address)'", "\(path) exists and is not a socket")
                }
                unlink(path)
            }
        }
        let fd = address.withSockaddr { sockaddr, length, family -> Int32 in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var one: Int32 = 1
            if family != AF_UNIX { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
            if bind(fd, sockaddr, length) != 0 || listen(fd, 128) != 0 {
                let saved = errno
                close(fd)
                errno = saved
                return -1
            }
            return fd
        }
        guard fd >= 0 else { throw ExportError("metrics.listen '\(address)'", String(cString: strerror(errno))) }
        if case .unix(let path) = address { chmod(path, 0o666) }
        // Accepted in a loop until none waits: the listener must not block.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        listener = fd
    }

    /// The text the next scrape gets.
    public func update(_ metrics: String) { text.withLock { $0 = metrics } }

    public var requestsServed: Int64 { served.load(ordering: .relaxed) }

    /// Starts the accepting thread.
    public func start() throws(ExportError) {
        let box = Unmanaged.passRetained(self)
        var id = pthread_t()
        let result = pthread_create(&id, nil, { raw in
            // The retained reference passed to pthread_create: released when the loop ends.
            let server = Unmanaged<MetricsServer>.fromOpaque(raw!).takeRetainedValue()
            server.loop()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            throw ExportError("metrics server thread", String(cString: strerror(result)))
        }
        thread.withLock { $0 = id }
    }

    /// Stops accepting and waits for the thread.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        if let id = thread.withLock({ t -> pthread_t? in let id = t; t = nil; return id }) { pthread_join(id, nil) }
        close(listener)
        if case .unix(let path) = address { unlink(path) }
    }

    /// How long one exchange (request head and answer) may take, connections held at once, and the
    /// longest request head: a local client that trickles bytes or holds connections open cannot
    /// keep a scrape waiting longer than this.
    public struct Limits: Sendable {
        public var exchangeDeadline: Int64 = 2_000_000_000
        public var maximumConnections = 16
        public var maximumHead = 8192
        public init() {}
    }

    private struct Connection {
        let fd: Int32
        let deadline: Int64
        var head: [UInt8] = []
        var answer: [UInt8] = []
        var sent = 0
        var answering: Bool { !answer.isEmpty }
    }

    /// One thread serves every connection with `poll`: each has its deadline from its accept, and
    /// when the cap is reached the oldest connection still sending its request makes room.
    private func loop() {
        var connections: [Connection] = []
        while !stopped.load(ordering: .acquiring) {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for c in connections { fds.append(pollfd(fd: c.fd, events: Int16(c.answering ? POLLOUT : POLLIN), revents: 0)) }
            let now = SystemClock.monotonicNanoseconds()
            let nearest = connections.map(\.deadline).min().map { max(0, ($0 - now) / 1_000_000 + 1) } ?? 200
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(200, nearest)))
            if ready > 0 {
                for (index, fd) in fds.enumerated().dropFirst() where fd.revents != 0 {
                    step(&connections[index - 1], revents: fd.revents)
                }
                if fds[0].revents & Int16(POLLIN) != 0 { acceptAll(&connections) }
            }
            let after = SystemClock.monotonicNanoseconds()
            connections.removeAll { c in
                let finished = c.fd < 0 || (c.answering && c.sent == c.answer.count) || after >= c.deadline
                if finished && c.fd >= 0 { close(c.fd) }
                return finished
            }
        }
        for c in connections where c.fd >= 0 { close(c.fd) }
    }

    private func acceptAll(_ connections: inout [Connection]) {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connections.count >= limits.maximumConnections {
                if let oldest = connections.indices.filter({ !connections[$0].answering && connections[$0].fd >= 0 })
                    .min(by: { connections[$0].deadline < connections[$1].deadline }) {
                    close(connections[oldest].fd)
                    connections.remove(at: oldest)
                } else {
                    close(fd)
                    continue
                }
            }
            connections.append(Connection(fd: fd, deadline: SystemClock.monotonicNanoseconds() + limits.exchangeDeadline))
        }
    }

    private func step(_ c: inout Connection, revents: Int16) {
        if c.answering {
            while c.sent < c.answer.count {
                let n = c.answer.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, Int32(MSG_NOSIGNAL)) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
                if n <= 0 { close(c.fd); c = Connection(fd: -1, deadline: 0); return }
                c.sent += n
            }
            return
        }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress!, $0.count, 0) }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        if n <= 0 {
            close(c.fd)
            c = Connection(fd: -1, deadline: 0)
            return
        }
        c.head += buffer[0..<n]
        if let end = Self.headEnd(c.head) {
            c.answer = answer(to: Array(c.head[..<end]))
        } else if c.head.count > limits.maximumHead {
            c.answer = Array("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        }
        if c.answering { step(&c, revents: Int16(POLLOUT)) }
    }

    /// Where a request head ends (after its blank line), or nil while it has not.
    public static func headEnd(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                if i + 1 < bytes.count && bytes[i + 1] == 10 { return i + 2 }
                if i + 2 < bytes.count && bytes[i + 1] == 13 && bytes[i + 2] == 10 { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    private func answer(to request: [UInt8]) -> [UInt8] {
        let (reply, isScrape) = MetricsServer.reply(to: request, metrics: text.withLock { $0 })
        if isScrape { served.add(1, ordering: .relaxed) }
        return reply
    }

    /// The answer to a request head (its bytes up to the blank line): the metrics for `GET` or
    /// `HEAD` of `/metrics` or `/`, 404 for another path, 405 for another method; and whether it
    /// was a scrape.
    public static func reply(to request: [UInt8], metrics body: String) -> (bytes: [UInt8], isScrape: Bool) {
        let firstLine = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = firstLine.split(separator: " ")
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD", parts[1] == "/metrics" || parts[1] == "/" {
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + (parts[0] == "HEAD" ? "" : body)
            return (Array(response.utf8), true)
        }
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" {
            return (Array("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 22\r\nConnection: close\r\n\r\nmetrics are /metrics\r\n".utf8), false)
        }
        return (Array("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8), false)
    }
}
