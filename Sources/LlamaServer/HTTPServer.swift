import Foundation
public import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on POSIX sockets: one thread accepts, one thread per connection
/// answers one request and closes the connection.
///
/// Light on purpose: the model runtime needs a handful of JSON routes and server-sent events, and
/// nothing here justifies a larger framework in every build.
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

    /// Binds and listens; `run()` then accepts connections.
    public init(host: String, port: Int, logger: Logger, handler: @escaping Handler) throws(SocketError) {
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
    }

    /// Accepts connections until `stop()` is called, answering each on a thread of its own.
    public func run() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    usleep(50_000)
                    continue
                }
                logger.debug("accept ended", metadata: ["errno": "\(errno)"])
                return
            }
            let thread = Thread { [self] in serve(connection) }
            thread.name = "http-connection"
            thread.start()
        }
    }

    /// Stops accepting; requests in progress finish.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ fd: Int32) {
        let writer = HTTPResponseWriter(fd: fd)
        defer { writer.close() }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var headEnd: Int?
        while headEnd == nil {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            buffer.append(contentsOf: chunk[0..<count])
            headEnd = Self.find([13, 10, 13, 10], in: buffer)
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
        guard head.contentLength <= Self.maximumBodyBytes else {
            writer.sendJSONError(status: 413, message: "request body larger than \(Self.maximumBodyBytes) bytes")
            return
        }
        var body = Array(buffer[(end + 4)...])
        while body.count < head.contentLength {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            body.append(contentsOf: chunk[0..<count])
        }
        let request = HTTPRequest(method: head.method, path: head.path, query: head.query,
                                  headers: head.headers, body: Array(body.prefix(head.contentLength)))
        logger.debug("request", metadata: ["method": "\(request.method)", "path": "\(request.path)"])
        handler(request, writer)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<i + needle.count]) == needle { return i }
        }
        return nil
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
