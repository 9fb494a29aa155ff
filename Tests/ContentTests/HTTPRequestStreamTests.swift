import Testing
@testable import Content

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private let chatBody = #"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#

private func post(_ path: String, body: String, extra: String = "") -> String {
    "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nContent-Type: application/json\r\n\(extra)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

private func chunked(_ path: String, chunks: [String]) -> String {
    var s = "POST \(path) HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    for c in chunks { s += String(c.utf8.count, radix: 16) + ";ext=1\r\n" + c + "\r\n" }
    return s + "0\r\nX-Trailer: yes\r\n\r\n"
}

@Test func parsesARequestWithContentLength() {
    var stream = HTTPRequestStream()
    let requests = stream.feed(bytes(post("/v1/chat/completions?x=1", body: chatBody)))
    #expect(requests.count == 1)
    #expect(requests.first?.method == "POST")
    #expect(requests.first?.path == "/v1/chat/completions")
    #expect(requests.first?.host == "127.0.0.1:11434")
    #expect(requests.first?.contentType == "application/json")
    #expect(requests.first?.body == bytes(chatBody))
    #expect(requests.first?.truncated == false)
    #expect(stream.state == .active)
}

@Test func parsesChunkedPipelinedRequestsSplitAtEveryByte() {
    let wire = bytes(chunked("/api/chat", chunks: ["{\"messages\":", "[]}"]) + post("/api/generate", body: "{}")
        + "GET /api/tags HTTP/1.1\r\nHost: x\r\n\r\n")
    var whole = HTTPRequestStream()
    let expected = whole.feed(wire)
    #expect(expected.map(\.path) == ["/api/chat", "/api/generate", "/api/tags"])
    #expect(expected.first?.body == bytes("{\"messages\":[]}"))
    var split = HTTPRequestStream()
    var got: [HTTPRequestStream.Request] = []
    for b in wire { got += split.feed([b]) }
    #expect(got == expected)
    #expect(split.counters.requests == 3)
}

@Test func parsesRequestsSplitAtRandomBoundaries() {
    var generator = SplitMix64(seed: 1)
    let wire = bytes(post("/v1/completions", body: String(repeating: "a", count: 5000)) + chunked("/infill", chunks: ["x", "yz"]))
    for _ in 0..<50 {
        var stream = HTTPRequestStream()
        var got: [HTTPRequestStream.Request] = []
        var i = 0
        while i < wire.count {
            let n = Int.random(in: 1...700, using: &generator)
            got += stream.feed(wire[i..<min(wire.count, i + n)])
            i += n
        }
        #expect(got.map(\.body.count) == [5000, 3])
    }
}

@Test func truncatesABodyOverTheBudgetAndKeepsParsing() {
    var stream = HTTPRequestStream(bodyLimit: 100)
    let requests = stream.feed(bytes(post("/api/chat", body: String(repeating: "z", count: 1000)) + post("/api/generate", body: "{}")))
    #expect(requests.count == 2)
    #expect(requests.first?.body.count == 100)
    #expect(requests.first?.truncated == true)
    #expect(stream.counters.skippedBytes == 900)
    #expect(requests.last?.body == bytes("{}"))
}

@Test func failsOnGarbageAndTLS() {
    var garbage = HTTPRequestStream()
    #expect(garbage.feed([0x16, 0x03, 0x01, 0x02, 0x00]).isEmpty)
    #expect(garbage.state == .failed(.notHTTP))
    #expect(garbage.feed(bytes(post("/api/chat", body: "{}"))).isEmpty)
    #expect(garbage.counters.ignoredBytes > 5)

    var http2 = HTTPRequestStream()
    #expect(http2.feed(bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")).isEmpty)
    #expect(http2.state == .failed(.unsupportedVersion))

    var words = HTTPRequestStream()
    _ = words.feed(bytes("HELLO WORLD THIS IS NOT\r\n"))
    #expect(words.state == .failed(.notHTTP))
}

@Test func failsOnAnOversizedHeadOrBadFraming() {
    var big = HTTPRequestStream(headerLimit: 1024)
    _ = big.feed(bytes("POST / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000)))
    #expect(big.state == .failed(.headerTooLarge))

    var conflicting = HTTPRequestStream()
    _ = conflicting.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"))
    #expect(conflicting.state == .failed(.badFraming))

    var badChunk = HTTPRequestStream()
    _ = badChunk.feed(bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
    #expect(badChunk.state == .failed(.badChunk))
}

@Test func abandonsTheRequestUnderAGapAndResynchronises() {
    var stream = HTTPRequestStream()
    let first = bytes(post("/api/chat", body: chatBody))
    _ = stream.feed(first[0..<40])
    stream.gap(30)
    #expect(stream.counters.abandonedRequests == 1)
    let rest = Array(first[70...]) + bytes(post("/api/generate", body: "{\"prompt\":\"hi\"}"))
    let requests = stream.feed(rest)
    #expect(requests.map(\.path) == ["/api/generate"])
    #expect(stream.counters.gapBytes == 30)
    #expect(stream.state == .active)
}

@Test func skipsExactlyTheRestOfABodyAfterAGapInIt() {
    var stream = HTTPRequestStream()
    let first = bytes(post("/api/chat", body: String(repeating: "b", count: 100)))
    let headLength = first.count - 100
    _ = stream.feed(first[0..<(headLength + 10)])
    stream.gap(20)
    let requests = stream.feed(Array(first[(headLength + 30)...]) + bytes(post("/api/generate", body: "{}")))
    #expect(requests.map(\.path) == ["/api/generate"])
    #expect(stream.counters.abandonedRequests == 1)
}

@Test func failsWhenNoRequestLineFollowsAGap() {
    var stream = HTTPRequestStream(headerLimit: 256, bodyLimit: 100)
    _ = stream.feed(bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n"))
    stream.gap(5)
    _ = stream.feed([UInt8](repeating: 0x41, count: 1000))
    #expect(stream.state == .failed(.lostSync))
}

@Test func stopsAfterAWebSocketUpgrade() {
    var stream = HTTPRequestStream()
    let head = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    let requests = stream.feed(bytes(head) + [0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    #expect(requests.count == 1)
    #expect(stream.state == .upgraded)
    #expect(stream.counters.upgrades == 1)
    #expect(stream.counters.ignoredBytes == 11)
}

@Test func keepsParsingWhenAnUpgradeIsRefused() {
    var stream = HTTPRequestStream()
    let head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"
    let requests = stream.feed(bytes(head + post("/api/chat", body: "{}")))
    #expect(requests.map(\.path) == ["/", "/api/chat"])
    #expect(stream.state == .active)
}

@Test func handlesExpectContinueWithAndWithoutTheBody() {
    var sent = HTTPRequestStream()
    let withBody = sent.feed(bytes(post("/api/chat", body: chatBody, extra: "Expect: 100-continue\r\n")))
    #expect(withBody.first?.body == bytes(chatBody))

    var refused = HTTPRequestStream()
    let head = "POST /api/chat HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"
    var got: [HTTPRequestStream.Request] = []
    for b in bytes(head + post("/api/generate", body: "{}")) { got += refused.feed([b]) }
    #expect(got.map(\.path) == ["/api/chat", "/api/generate"])
    #expect(got.first?.body == [])
}

@Test func readsAnAbsoluteTarget() {
    var stream = HTTPRequestStream()
    let requests = stream.feed(bytes("POST http://localhost:8080/v1/chat/completions?a HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
    #expect(requests.first?.path == "/v1/chat/completions")
    #expect(requests.first?.host == "localhost:8080")
}
