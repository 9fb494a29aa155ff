public import Reporting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// POSTs each alert's JSON to an `http://` URL, with a time limit per attempt and retries with a
/// growing pause. Any 2xx answer is delivery. Plain HTTP over a socket of its own: no TLS, no
/// redirects, no proxies (point it at a local relay for anything more).
public struct WebhookSink: AlertSink {
    public let name = "webhook"
    public let host: String
    public let port: UInt16
    public let target: String
    public let timeout: Double
    public let retries: Int

    /// Why a webhook URL is refused.
    public struct URLProblem: Error, Equatable, Sendable, CustomStringConvertible {
        public var url: String
        public var description: String { "webhook: '\(url)' is not an http://HOST[:PORT]/PATH URL" }
    }

    public init(url: String, timeout: Double = 5, retries: Int = 2) throws(URLProblem) {
        guard url.hasPrefix("http://") else { throw URLProblem(url: url) }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        target = slash == rest.endIndex ? "/" : String(rest[slash...])
        var hostPart = authority
        var port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw URLProblem(url: url) }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = UInt16(after.dropFirst()) else { throw URLProblem(url: url) }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            guard let p = UInt16(authority[authority.index(after: colon)...]) else { throw URLProblem(url: url) }
            port = p
        }
        guard !hostPart.isEmpty else { throw URLProblem(url: url) }
        host = String(hostPart)
        self.port = port
        self.timeout = timeout
        self.retries = max(0, retries)
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        for attempt in 0...retries {
            if attempt > 0 { usleep(UInt32(min(5.0, 0.2 * pow(2, Double(attempt - 1))) * 1_000_000)) }
            if let status = post(json), (200..<300).contains(status) { return true }
        }
        return false
    }

    /// One POST; the HTTP status, or nil when the exchange failed.
    func post(_ body: String) -> Int? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), first.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Connect with a time limit: non-blocking connect, then poll.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return nil }
        }
        _ = fcntl(fd, F_SETFL, flags)
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let payload = Array(body.utf8)
        let request = Array((
            "POST \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: telltale\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n").utf8) + payload
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress.map { $0 + sent }, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return nil }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !response.contains(UInt8(ascii: "\n")) && response.count < 8192 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            response += buffer[0..<n]
        }
        // "HTTP/1.1 204 No Content"
        let line = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let fields = line.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else { return nil }
        return status
    }
}
