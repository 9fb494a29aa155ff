import Foundation
public import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on POSIX sockets: one thread accepts, one thread per connection
/// answers one request and closes the connection.
///
/// Light on purpose: the model runtime needs a handful of JSON routes and server-sent events, and
/// nothing here justifies a larger framework in every build. It holds the guarantees a local model
/// server needs against web pages and stuck clients: only loopback names in `Host` and `Origin`
/// (no DNS rebinding, no cross-site requests), a deadline for reading each request and a timeout
/// on every read and write, a cap on open connections, and a budget for the request bodies held in
/// memory at once.
public final class HTTPServer: Sendable {
    /// Answers one request by writing to the connection.
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter) -> Void

    /// The error of a socket call, with the operation and the system's message.
    public struct SocketError: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var message: String
        public var description: String { "\(operation): \(message)" }
    }

    /// The address the server is listening on.
    public let host: String
    /// The port it is listening on (the one the system chose when 0 was asked for).
    public let port: Int
    private let listener: Int32
    private let handler: Handler
    private let logger: Logger

    static let maximumHeadBytes = 64 << 10
    static let maximumBodyBytes = 16 << 20

    /// What one client may take of the server.
    public struct Limits: Sendable {
        /// Connections open at once; one more is answered 503 and closed.
        public var connections = 64
        /// Bytes of request bodies held in memory at once, across connections.
        public var bodyBudget = 64 << 20
        /// Seconds to receive a whole request (head and body).
        public var requestDeadline: Double = 30
        /// Seconds any one read or write may wait.
        public var ioTimeout: Double = 30
        public init() {}
    }

    private let limits: Limits
    private let open = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let accepting = Atomic<Bool>(false)
    private let listenerClosed = Atomic<Bool>(false)
    private let bodyBytes = Atomic<Int>(0)
    /// Host names (without port) the server answers to: loopback names, and the address it listens on.
    private let allowedHosts: Set<String>

    /// Binds and listens; `run()` then accepts connections.
    public init(host: String, port: Int, logger: Logger, limits: Limits = Limits(), handler: @escaping Handler) throws(SocketError) {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let info = list else {
            throw SocketError(operation: "resolve \(host)", message: "not a numeric IP address (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw Self.lastError("socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let error = Self.lastError("bind \(host):\(port)")
            close(fd)
            throw error
        }
        guard listen(fd, 64) == 0 else {
            let error = Self.lastError("listen")
            close(fd)
            throw error
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var boundPort = port
        if named == 0 {
            boundPort = withUnsafePointer(to: &storage) { pointer in
                if Int32(pointer.pointee.ss_family) == AF_INET6 {
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
        self.host = host
        self.port = boundPort
        self.listener = fd
        self.handler = handler
        self.logger = logger
        self.limits = limits
        allowedHosts = ["localhost", "127.0.0.1", "::1", host.lowercased()]
    }

    /// Accepts connections until `stop()` is called, answering each on a thread of its own.
    public func run() {
        accepting.store(true, ordering: .releasing)
        // The listening descriptor is closed here, once no accept can use it: closed in `stop()`, its
        // number could be reused by another socket before this loop saw the stop.
        defer { closeListener() }
        while !stopping.load(ordering: .acquiring) {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if stopping.load(ordering: .acquiring) { return }
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    usleep(50_000)
                    continue
                }
                logger.debug("accept ended", metadata: ["errno": "\(errno)"])
                return
            }
            if open.add(1, ordering: .acquiringAndReleasing).newValue > limits.connections {
                open.subtract(1, ordering: .acquiringAndReleasing)
                let writer = HTTPResponseWriter(fd: connection)
                setTimeouts(connection, seconds: 1)
                writer.sendJSONError(status: 503, message: "too many connections (\(limits.connections)); try again", type: "server_error")
                writer.close()
                continue
            }
            setTimeouts(connection, seconds: limits.ioTimeout)
            let thread = Thread { [self] in
                defer { open.subtract(1, ordering: .acquiringAndReleasing) }
                serve(connection)
            }
            thread.name = "http-connection"
            thread.start()
        }
    }

    /// Stops accepting; requests in progress finish.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        shutdown(listener, Int32(SHUT_RDWR))
        if !accepting.load(ordering: .acquiring) { closeListener() }
    }

    /// Connections being served now, and request-body bytes reserved now.
    var load: (connections: Int, bodyBytes: Int) {
        (open.load(ordering: .acquiring), bodyBytes.load(ordering: .acquiring))
    }

    private func closeListener() {
        guard !listenerClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(listener)
    }

    private func serve(_ fd: Int32) {
        let writer = HTTPResponseWriter(fd: fd)
        defer { writer.close() }
        let deadline = Date().addingTimeInterval(limits.requestDeadline)
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var headEnd: Int?
        while headEnd == nil {
            guard Date() < deadline else {
                writer.sendJSONError(status: 408, message: "the request did not arrive within \(Int(limits.requestDeadline)) s")
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                    writer.sendJSONError(status: 408, message: "the client sent nothing for \(Int(limits.ioTimeout)) s")
                }
                return
            }
            // Only the new bytes (and the three before them) can complete the blank line: a head sent
            // a byte at a time costs linear time, not quadratic.
            let searchFrom = max(0, buffer.count - 3)
            buffer.append(contentsOf: chunk[0..<count])
            headEnd = Self.find([13, 10, 13, 10], in: buffer, from: searchFrom)
            if headEnd == nil, buffer.count > Self.maximumHeadBytes {
                writer.sendJSONError(status: 431, message: "request head too large")
                return
            }
        }
        guard let end = headEnd else { return }
        let head: HTTPRequest.Head
        do {
            head = try HTTPRequest.parseHead(buffer[0..<end])
        } catch {
            writer.sendJSONError(status: 400, message: "malformed request: \(error)")
            return
        }
        if let refusal = refusal(of: head) {
            writer.sendJSONError(status: 403, message: refusal, type: "forbidden")
            return
        }
        guard head.contentLength <= Self.maximumBodyBytes else {
            writer.sendJSONError(status: 413, message: "request body larger than \(Self.maximumBodyBytes) bytes")
            return
        }
        // The body's bytes are reserved before they are read: many held bodies cannot exhaust memory.
        guard bodyBytes.add(head.contentLength, ordering: .acquiringAndReleasing).newValue <= limits.bodyBudget else {
            bodyBytes.subtract(head.contentLength, ordering: .acquiringAndReleasing)
            writer.sendJSONError(status: 503, message: "too many request bodies in progress; try again", type: "server_error")
            return
        }
        defer { bodyBytes.subtract(head.contentLength, ordering: .acquiringAndReleasing) }
        var body = Array(buffer[(end + 4)...])
        while body.count < head.contentLength {
            guard Date() < deadline else {
                writer.sendJSONError(status: 408, message: "the request did not arrive within \(Int(limits.requestDeadline)) s")
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            body.append(contentsOf: chunk[0..<count])
        }
        let request = HTTPRequest(method: head.method, path: head.path, query: head.query,
                                  headers: head.headers, body: Array(body.prefix(head.contentLength)))
        logger.debug("request", metadata: ["method": "\(request.method)", "path": "\(request.path)"])
        handler(request, writer)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<i + needle.count].elementsEqual(needle) { return i }
        }
        return nil
    }

    /// Why a request must not be answered: a `Host` that is not this server's loopback name (a web
    /// page whose name was rebound to 127.0.0.1), or an `Origin` of another site (a page's script).
    func refusal(of head: HTTPRequest.Head) -> String? {
        guard let host = head.headers["host"] else { return "a request without a Host header is refused" }
        guard allowedHosts.contains(Self.hostName(host)) else {
            return "Host '\(host.prefix(100))' is not this server's (\(allowedHosts.sorted().joined(separator: ", "))): refused against DNS rebinding"
        }
        if let origin = head.headers["origin"] {
            // `null` is what a sandboxed frame, a `data:` page or a file sends: a page, and not one
            // of this server's, so it is foreign like any other site.
            if origin.trimmingCharacters(in: .whitespaces).lowercased() == "null" {
                return "Origin 'null' (a sandboxed frame, a data: or file page) is not this server's: cross-site requests are refused"
            }
            let name = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            guard origin.hasPrefix("http://") || origin.hasPrefix("https://"), allowedHosts.contains(Self.hostName(name)) else {
                return "Origin '\(origin.prefix(100))' is another site: cross-site requests are refused"
            }
        }
        return nil
    }

    /// The name of a `Host` value without its port: `localhost`, `127.0.0.1`, `::1` (from `[::1]:8080`).
    static func hostName(_ value: String) -> String {
        let value = value.trimmingCharacters(in: .whitespaces).lowercased()
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            return String(value[value.index(after: value.startIndex)..<close])
        }
        if let colon = value.lastIndex(of: ":"), value.firstIndex(of: ":") == colon { return String(value[..<colon]) }
        return value
    }

    private func setTimeouts(_ fd: Int32, seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func lastError(_ operation: String) -> SocketError {
        SocketError(operation: operation, message: String(cString: strerror(errno)))
    }
}

/// Writes one response to a connection: whole, or as a stream of server-sent events.
public final class HTTPResponseWriter: @unchecked Sendable {
    // Used by the one connection thread that owns the descriptor; never shared.
    private let fd: Int32
    private var closed = false
    /// False once the client went away; writes after that are dropped.
    public private(set) var isConnected = true

    init(fd: Int32) { self.fd = fd }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 408: "Request Timeout"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    /// Sends a complete response.
    public func send(status: Int, contentType: String, body: [UInt8]) {
        let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        write(Array(head.utf8) + body)
    }

    public func sendJSON(status: Int = 200, _ body: [UInt8]) {
        send(status: status, contentType: "application/json", body: body)
    }

    /// Sends an OpenAI-style error object.
    public func sendJSONError(status: Int, message: String, type: String = "invalid_request_error") {
        let object: [String: Any] = ["error": ["message": message, "type": type, "code": status]]
        let body = (try? JSONSerialization.data(withJSONObject: object)).map { Array($0) } ?? Array("{}".utf8)
        sendJSON(status: status, body)
    }

    /// Starts a `text/event-stream` response; the body ends when the connection closes.
    public func startEventStream() {
        write(Array(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            + "Connection: close\r\n\r\n").utf8))
    }

    /// Sends one event: `data: PAYLOAD` and a blank line.
    @discardableResult
    public func sendEvent(_ payload: [UInt8]) -> Bool {
        write(Array("data: ".utf8) + payload + Array("\n\n".utf8))
        return isConnected
    }

    private func write(_ bytes: [UInt8]) {
        guard isConnected, !closed else { return }
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a client that hung up must not kill the server with SIGPIPE.
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else {
                isConnected = false
                return
            }
            offset += sent
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        shutdown(fd, Int32(SHUT_WR))
        Glibc.close(fd)
    }
}
