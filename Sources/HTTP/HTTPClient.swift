public import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Sends one HTTP/1.1 request over a connection of its own and reads the response, all before one
/// deadline and within a size limit: a server that never answers, or answers without end, costs
/// the caller `timeout` seconds and `maximumResponseBytes` bytes at most.
///
/// Plain HTTP only: no TLS, no redirects, no proxies, no keep-alive (`Connection: close`).
public struct HTTPClient: Sendable {
    /// The server's name or numeric address.
    public var host: String
    public var port: UInt16
    /// Seconds for the whole exchange: connecting, sending, and reading the response.
    public var timeout: Double
    /// Longest response, head and body; a longer one fails.
    public var maximumResponseBytes: Int

    public init(host: String, port: UInt16, timeout: Double, maximumResponseBytes: Int = 16 << 20) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// Why an exchange failed, by its step.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case connect(SystemError)
        case send(SystemError)
        case receive(SystemError)
        /// The response passed `maximumResponseBytes`.
        case tooLarge(Int)
        /// The connection ended before the response did.
        case truncated
        case malformed(HTTPResponse.ParseError)

        public var description: String {
            switch self {
            case .connect(let error): "cannot connect: \(error)"
            case .send(let error): "sending the request: \(error)"
            case .receive(let error): error.code == ETIMEDOUT ? "no answer in time: \(error)" : "reading the answer: \(error)"
            case .tooLarge(let limit): "the answer is larger than \(limit) bytes"
            case .truncated: "the answer ended early"
            case .malformed(let error): "not an HTTP answer (\(error))"
            }
        }
    }

    /// The `Host` field for this server: `127.0.0.1:8080`, `[::1]:8080`.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Sends `method target` with `fields` (after `Host`; `Content-Length` and `Connection` are
    /// added) and `body`, and reads the whole response.
    public func send(method: String, target: String, fields: [HTTPResponse.Field] = [], body: [UInt8] = []) throws(Failure) -> HTTPResponse {
        let deadline = SystemClock.monotonicNanoseconds() + timeout.nanoseconds
        let fd: Int32
        do throws(SystemError) { fd = try Socket.connect(host: host, port: port, deadline: deadline) } catch { throw .connect(error) }
        defer { Socket.close(fd) }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(authority)\r\n"
        for field in fields { head += "\(field.name): \(field.value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        do throws(SystemError) {
            try Socket.sendAll(fd, Array(head.utf8) + body, deadline: deadline, what: "send to \(authority)")
        } catch {
            throw .send(error)
        }
        return try receive(fd, method: method, deadline: deadline)
    }

    /// POSTs `body` as `contentType`.
    public func post(_ target: String, contentType: String, body: [UInt8], fields: [HTTPResponse.Field] = []) throws(Failure) -> HTTPResponse {
        try send(method: "POST", target: target, fields: fields + [HTTPResponse.Field("Content-Type", contentType)], body: body)
    }

    private func receive(_ fd: Int32, method: String, deadline: Int64) throws(Failure) -> HTTPResponse {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        /// Reads more into `bytes`: false at the end of the connection.
        func more() throws(Failure) -> Bool {
            let count: Int
            do throws(SystemError) { count = try Socket.receive(fd, into: &chunk, deadline: deadline, what: "receive from \(authority)") } catch {
                throw .receive(error)
            }
            guard count > 0 else { return false }
            guard bytes.count + count <= maximumResponseBytes else { throw .tooLarge(maximumResponseBytes) }
            bytes += chunk[0..<count]
            return true
        }

        var headEnd: Int?
        while headEnd == nil {
            let searchFrom = max(0, bytes.count - 3)
            guard try more() else { throw .truncated }
            headEnd = HTTPFields.headEnd(in: bytes, from: searchFrom)
        }
        guard let end = headEnd else { throw .truncated }
        var response: HTTPResponse
        let framing: HTTPResponse.BodyFraming
        do throws(HTTPResponse.ParseError) {
            response = try HTTPResponse.parseHead(bytes[0..<end])
            framing = try response.framing(method: method)
        } catch {
            throw .malformed(error)
        }
        let bodyStart = end + 4
        switch framing {
        case .length(let length):
            guard length <= maximumResponseBytes else { throw .tooLarge(maximumResponseBytes) }
            while bytes.count - bodyStart < length {
                guard try more() else { throw .truncated }
            }
            response.body = Array(bytes[bodyStart..<(bodyStart + length)])
        case .chunked:
            var open = true
            while true {
                // The last chunk ends with a blank line: decoding waits for one (or for the end of
                // the connection), so a long body is not decoded again at every read.
                if !open || bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
                    let decoded: (body: [UInt8], finished: Bool)
                    do throws(HTTPResponse.ParseError) { decoded = try ChunkedBody.decode(Array(bytes[bodyStart...])) } catch { throw .malformed(error) }
                    if decoded.finished {
                        response.body = decoded.body
                        break
                    }
                    guard open else { throw .truncated }
                }
                open = try more()
            }
        case .untilClose:
            while try more() {}
            response.body = Array(bytes[bodyStart...])
        }
        return response
    }
}
