import HTTP
import Testing

@Suite("HTTP request heads")
struct HTTPRequestTests {
    @Test func parsesMethodPathQueryHeadersAndLength() throws {
        let head = try HTTPRequest.parseHead(Array("POST /v1/completions?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12\r\nX-A:  b \r\n".utf8))
        #expect(head.method == "POST")
        #expect(head.path == "/v1/completions")
        #expect(head.query == "x=1")
        #expect(head.headers["host"] == "127.0.0.1")
        #expect(head.headers["x-a"] == "b")
        #expect(head.contentLength == 12)
    }

    @Test func rejectsMalformedHeads() {
        #expect(throws: HTTPRequest.ParseError.malformedRequestLine) { try HTTPRequest.parseHead(Array("GARBAGE\r\n".utf8)) }
        #expect(throws: HTTPRequest.ParseError.unsupportedVersion("HTTP/2")) { try HTTPRequest.parseHead(Array("GET / HTTP/2\r\n".utf8)) }
        #expect(throws: HTTPRequest.ParseError.invalidContentLength) {
            try HTTPRequest.parseHead(Array("POST / HTTP/1.1\r\nContent-Length: -3\r\n".utf8))
        }
        #expect(throws: HTTPRequest.ParseError.malformedHeader) { try HTTPRequest.parseHead(Array("GET / HTTP/1.1\r\nno colon\r\n".utf8)) }
    }
}
