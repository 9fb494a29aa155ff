import Foundation
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// An OpenAI-compatible API on this machine: http, a loopback host, a port, a base path. Requests
/// are HTTP/1.1 over one TCP connection each (`Connection: close`), with a deadline.
struct Endpoint: CustomStringConvertible {
    var host: String
    var port: UInt16
    var basePath: String

    /// Parses `http://127.0.0.1:8080/v1`; nil for another scheme or a host off this machine.
    init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        basePath = String(rest.dropFirst(authority.count))
        if basePath.hasSuffix("/") { basePath.removeLast() }
        var hostPart: Substring, portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            portPart = after.hasPrefix(":") ? after.dropFirst() : nil
        } else {
            let pieces = authority.split(separator: ":", maxSplits: 1)
            guard let first = pieces.first else { return nil }
            hostPart = first
            portPart = pieces.count == 2 ? pieces[1] : nil
        }
        switch hostPart {
        case "127.0.0.1", "localhost": host = "127.0.0.1"
        case "::1": host = "::1"
        default: return nil
        }
        guard let port = UInt16(portPart.map(String.init) ?? "80"), port > 0 else { return nil }
        self.port = port
    }

    var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(basePath)" }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// POSTs a JSON body to basePath + path; the status and the body of the answer.
    func post(path: String, body: Data, timeout: Double) throws -> (status: Int, body: Data) {
        let server = SocketAddress.inet(host: host, port: port)
        var fd: Int32 = -1
        let connected = server.withSockaddr { address, length, family -> Int32 in
            fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            return connect(fd, address, length)
        }
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard connected == 0 else { throw Failure(description: "cannot connect: \(String(cString: strerror(errno)))") }
        var request = Data("POST \(basePath + path) HTTP/1.1\r\nHost: \(server)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        request.append(body)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "sending the request: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while answer.count < 16 << 20 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure(description: "reading the answer: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            answer.append(contentsOf: buffer[0..<n])
        }
        return try Self.parse(answer)
    }

    /// The status and body of an HTTP/1.1 response read to its end (Content-Length or chunked).
    static func parse(_ data: Data) throws -> (status: Int, body: Data) {
        guard let split = data.range(of: Data("\r\n\r\n".utf8)) else { throw Failure(description: "an incomplete answer") }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw Failure(description: "not an HTTP answer")
        }
        var body = Data(data[split.upperBound...])
        let headers = lines.dropFirst().map { $0.lowercased() }
        if headers.contains(where: { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }) {
            var decoded = Data()
            var rest = body[...]
            while let end = rest.range(of: Data("\r\n".utf8)) {
                let sizeText = String(decoding: rest[..<end.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { break }
                if size == 0 { break }
                let start = end.upperBound
                guard rest.distance(from: start, to: rest.endIndex) >= size else { throw Failure(description: "a truncated chunk") }
                let stop = rest.index(start, offsetBy: size)
                decoded.append(rest[start..<stop])
                rest = rest[stop...].dropFirst(2)
            }
            body = decoded
        } else if let length = headers.first(where: { $0.hasPrefix("content-length:") })
            .flatMap({ Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }) {
            guard body.count >= length else { throw Failure(description: "a truncated answer (\(body.count) of \(length) bytes)") }
            body = body.prefix(length)
        }
        return (status, body)
    }
}
