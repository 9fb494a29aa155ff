/// An HTTP/1.1 response: what a server sends and what the client reads back.
public struct HTTPResponse: Sendable, Equatable {
    /// One header line, its name as written.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var status: Int
    /// The header fields, in order, without `Content-Length` and `Connection` (the writer adds
    /// them; a parsed response keeps them as received).
    public var fields: [Field]
    public var body: [UInt8]

    public init(status: Int, fields: [Field] = [], body: [UInt8] = []) {
        self.status = status
        self.fields = fields
        self.body = body
    }

    /// A response with a `Content-Type` and a body.
    public init(status: Int, contentType: String, body: [UInt8]) {
        self.init(status: status, fields: [Field("Content-Type", contentType)], body: body)
    }

    /// The value of the first field called `name`, in any case.
    public subscript(_ name: String) -> String? {
        let wanted = name.lowercased()
        return fields.first { $0.name.lowercased() == wanted }?.value
    }

    /// Why a response could not be read.
    public enum ParseError: Error, Equatable, Sendable {
        case malformedStatusLine
        case malformedHeader
        case invalidContentLength
        case malformedChunk
    }

    /// The reason phrase sent with `status`.
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    /// The head as sent: status line, the fields, `Content-Length` (when known) and
    /// `Connection: close`, since every connection carries one exchange.
    func head(contentLength: Int?) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        if let contentLength { text += "Content-Length: \(contentLength)\r\n" }
        text += "Connection: close\r\n\r\n"
        return Array(text.utf8)
    }

    /// Parses a response head (everything before the blank line, without it): the status and the
    /// fields, with no body yet.
    public static func parseHead(_ bytes: some Collection<UInt8>) throws(ParseError) -> HTTPResponse {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), statusLine[1].count == 3, let status = Int(statusLine[1]) else {
            throw .malformedStatusLine
        }
        guard let fields = HTTPFields.parse(lines.dropFirst()) else { throw .malformedHeader }
        return HTTPResponse(status: status, fields: fields)
    }

    /// How the body of this response (to a request with `method`) is delimited.
    func framing(method: String) throws(ParseError) -> BodyFraming {
        if method == "HEAD" || (100..<200).contains(status) || status == 204 || status == 304 { return .length(0) }
        if let encoding = self["transfer-encoding"], encoding.lowercased().contains("chunked") { return .chunked }
        if let value = self["content-length"] {
            guard let length = Int(value[...].trimmingWhitespace()), length >= 0 else { throw .invalidContentLength }
            return .length(length)
        }
        return .untilClose
    }

    enum BodyFraming: Equatable {
        case length(Int)
        case chunked
        case untilClose
    }
}
