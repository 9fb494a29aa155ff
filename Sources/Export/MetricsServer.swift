public import Posix
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Serves the latest metrics text over HTTP on a loopback port or a Unix socket, for a Prometheus
/// that scrapes the daemon directly. One thread accepts and answers each request in turn (a
/// scrape is small and rare); a client gets two seconds to send its request line.
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

    public init(address: SocketAddress) throws(ExportError) {
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
            if bind(fd, sockaddr, length) != 0 || listen(fd, 16) != 0 {
                let saved = errno
                close(fd)
                errno = saved
                return -1
            }
            return fd
        }
        guard fd >= 0 else { throw ExportError("metrics.listen '\(address)'", String(cString: strerror(errno))) }
        if case .unix(let path) = address { chmod(path, 0o666) }
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

    private func loop() {
        while !stopped.load(ordering: .acquiring) {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Read the request head (up to 8 KiB); only its first line matters.
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while request.count < 8192 {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            request += buffer[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
            if request.count >= 2, request.suffix(2) == [10, 10] { break }
        }
        let firstLine = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = firstLine.split(separator: " ")
        let response: String
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD", parts[1] == "/metrics" || parts[1] == "/" {
            let body = text.withLock { $0 }
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + (parts[0] == "HEAD" ? "" : body)
            served.add(1, ordering: .relaxed)
        } else if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" {
            response = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 22\r\nConnection: close\r\n\r\nmetrics are /metrics\r\n"
        } else {
            response = "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        let bytes = Array(response.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
