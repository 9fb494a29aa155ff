/// An HTTP/1.1 request as the server received it.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path without the query string.
    public var path: String
    public var query: String?
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: String? = nil, headers: [String: String], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Why a request head could not be parsed.
    public enum ParseError: Error, Equatable, Sendable {
        case malformedRequestLine
        case malformedHeader
        case unsupportedVersion(String)
        case invalidContentLength
        case chunkedBodyUnsupported
    }

    /// The parsed head: the request without its body, and how many body bytes follow.
    public struct Head: Sendable, Equatable {
        public var method: String
        public var path: String
        public var query: String?
        public var headers: [String: String]
        public var contentLength: Int

        public init(method: String, path: String, query: String? = nil, headers: [String: String], contentLength: Int = 0) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.contentLength = contentLength
        }
    }

    /// Where the blank line that ends a request head starts in `bytes` (searching from `start`), or
    /// nil while it has not arrived.
    public static func headEnd(in bytes: [UInt8], from start: Int = 0) -> Int? {
        HTTPFields.headEnd(in: bytes, from: start)
    }

    /// Parses a request head (everything before the blank line, without it).
    public static func parseHead(_ bytes: some Collection<UInt8>) throws(ParseError) -> Head {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { throw .malformedRequestLine }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard requestLine.count == 3, !requestLine[0].isEmpty, requestLine[1].hasPrefix("/") || requestLine[1] == "*" else {
            throw .malformedRequestLine
        }
        guard requestLine[2] == "HTTP/1.1" || requestLine[2] == "HTTP/1.0" else {
            throw .unsupportedVersion(requestLine[2])
        }
        guard let fields = HTTPFields.parse(lines.map { $0[...] }) else { throw .malformedHeader }
        let headers = HTTPFields.byName(fields)
        if let encoding = headers["transfer-encoding"], encoding.lowercased() != "identity" {
            throw .chunkedBodyUnsupported
        }
        var contentLength = 0
        if let value = headers["content-length"] {
            guard let length = Int(value), length >= 0 else { throw .invalidContentLength }
            contentLength = length
        }
        let target = requestLine[1]
        let path: String
        var query: String?
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = String(target[target.index(after: mark)...])
        } else {
            path = target
        }
        return Head(method: requestLine[0].uppercased(), path: path, query: query, headers: headers, contentLength: contentLength)
    }
}
