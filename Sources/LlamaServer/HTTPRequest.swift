/// An HTTP/1.1 request as the server received it.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path without the query string.
    public var path: String
    public var query: String?
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

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
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedHeader }
            let name = line[..<colon].trimmingWhitespace().lowercased()
            guard !name.isEmpty else { throw .malformedHeader }
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
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

extension Substring {
    func trimmingWhitespace() -> String {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}
