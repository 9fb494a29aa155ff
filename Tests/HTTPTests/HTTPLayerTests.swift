import Foundation
import HTTP
import Logging
import Posix
import Testing

/// The shared layer's pieces: what every server gets (head limit, Host and Origin, eviction and
/// the exchange deadline of a small endpoint) and what the client does against servers that
/// misbehave.
@Suite(.serialized) struct HTTPLayerTests {
    static func server(_ limits: HTTPServer.Limits) throws -> HTTPServer {
        let server = try HTTPServer(host: "127.0.0.1", port: 0, logger: Logger(label: "test"), limits: limits) { _, writer in
            writer.send(status: 200, contentType: "text/plain", body: Array("ok".utf8))
        }
        server.start()
        return server
    }

    /// A connected, blocking client socket with a ten-second receive limit.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = try Socket.connect(to: .inet(host: "127.0.0.1", port: UInt16(port)), deadline: SystemClock.monotonicNanoseconds() + 5_000_000_000)
        return fd
    }

    /// Everything the server sends until it closes (or ten seconds pass).
    static func receiveAll(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = SystemClock.monotonicNanoseconds() + 10_000_000_000
        while true {
            let count = (try? Socket.receive(fd, into: &chunk, deadline: deadline, what: "test receive")) ?? 0
            guard count > 0 else { break }
            out += chunk[0..<count]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func send(_ fd: Int32, _ text: String) {
        try? Socket.sendAll(fd, Array(text.utf8), deadline: nil, what: "test send")
    }

    static func seconds(since start: Int64) -> Double { Double(SystemClock.monotonicNanoseconds() - start) / 1e9 }

    @Test func aHeadLongerThanTheLimitIsAnswered431() throws {
        var limits = HTTPServer.Limits()
        limits.maximumHeadBytes = 1024
        let server = try Self.server(limits)
        defer { server.stop() }
        let fd = try Self.connect(server.port)
        defer { Socket.close(fd) }
        Self.send(fd, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + String(repeating: "a", count: 2000))
        #expect(Self.receiveAll(fd).hasPrefix("HTTP/1.1 431"))
        // Just under the limit is answered.
        let fits = try Self.connect(server.port)
        defer { Socket.close(fits) }
        Self.send(fits, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + String(repeating: "a", count: 900) + "\r\n\r\n")
        #expect(Self.receiveAll(fits).hasPrefix("HTTP/1.1 200"))
    }

    @Test func hostAndOriginAreJudgedByTheLoopbackNames() {
        let check = HostCheck(listeningOn: "127.0.0.1")
        func head(_ headers: [String: String]) -> HTTPRequest.Head { HTTPRequest.Head(method: "GET", path: "/", headers: headers) }
        #expect(check.refusal(of: head(["host": "localhost:8080"])) == nil)
        #expect(check.refusal(of: head(["host": "[::1]:8080", "origin": "http://127.0.0.1:3000"])) == nil)
        #expect(check.refusal(of: head([:])) != nil)
        #expect(check.refusal(of: head(["host": "evil.example"])) != nil)
        #expect(check.refusal(of: head(["host": "localhost", "origin": "https://evil.example"])) != nil)
        #expect(check.refusal(of: head(["host": "localhost", "origin": "null"])) != nil)
        #expect(check.refusal(of: head(["host": "localhost", "origin": "file://localhost"])) != nil)
        // A Unix socket's server answers the loopback names only.
        #expect(HostCheck(listeningOn: nil).refusal(of: head(["host": "10.0.0.1"])) != nil)
    }

    /// A small endpoint's limits: a client that trickles its request is cut at the exchange
    /// deadline without an answer, and a full house gives way to a newcomer.
    @Test func aTricklingClientIsCutAndTheOldestReaderMakesRoom() throws {
        var limits = HTTPServer.Limits()
        limits.connections = 2
        limits.overflow = .evictOldestReader
        limits.exchangeDeadline = 1
        limits.answersLateRequests = false
        let server = try Self.server(limits)
        defer { server.stop() }

        let trickler = try Self.connect(server.port)
        let trickled = DispatchSemaphore(value: 0)
        // Closed once the trickling thread is done with it: a number closed early could be reused.
        defer {
            trickled.wait()
            Socket.close(trickler)
        }
        let trickling = Thread {
            defer { trickled.signal() }
            for byte in "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8 {
                guard (try? Socket.sendAll(trickler, [byte], deadline: nil, what: "trickle")) != nil else { return }
                usleep(100_000)
            }
        }
        trickling.start()
        let started = SystemClock.monotonicNanoseconds()
        #expect(Self.receiveAll(trickler) == "", "the trickler was answered")
        let waited = Self.seconds(since: started)
        #expect(waited > 0.5 && waited < 3, "cut after \(waited) s")

        // Two idle connections fill the house; a third is served and the oldest idle one is closed.
        let first = try Self.connect(server.port)
        defer { Socket.close(first) }
        let second = try Self.connect(server.port)
        defer { Socket.close(second) }
        #expect(HTTPServerLimitsTests.wait { server.load.connections == 2 })
        let newcomer = try Self.connect(server.port)
        defer { Socket.close(newcomer) }
        Self.send(newcomer, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(Self.receiveAll(newcomer).hasPrefix("HTTP/1.1 200"))
        let evicted = SystemClock.monotonicNanoseconds()
        #expect(Self.receiveAll(first) == "")
        #expect(Self.seconds(since: evicted) < 0.5, "the oldest reader was not closed at once")
    }

    @Test func theClientGivesUpOnAServerThatNeverAnswers() throws {
        // A listener that accepts nothing: the connection completes in the kernel's backlog, and no
        // answer ever comes.
        let listener = try Socket.listen(on: .inet(host: "127.0.0.1", port: 0))
        defer { Socket.close(listener) }
        let port = try #require(Socket.localPort(of: listener))
        let client = HTTPClient(host: "127.0.0.1", port: port, timeout: 0.5)
        let started = SystemClock.monotonicNanoseconds()
        #expect {
            _ = try client.post("/", contentType: "application/json", body: Array("{}".utf8))
        } throws: { error in
            guard case .receive(let cause) = error as? HTTPClient.Failure else { return false }
            return cause.code == ETIMEDOUT
        }
        let waited = Self.seconds(since: started)
        #expect(waited >= 0.4 && waited < 4, "gave up after \(waited) s")
    }

    /// A one-shot server that sends `response` to the first connection, whatever it asked.
    static func canned(_ response: String) throws -> (port: UInt16, thread: Thread) {
        let listener = try Socket.listen(on: .inet(host: "127.0.0.1", port: 0))
        let port = try #require(Socket.localPort(of: listener))
        let thread = Thread {
            defer { Socket.close(listener) }
            guard let fd = try? Socket.accept(listener, deadline: SystemClock.monotonicNanoseconds() + 5_000_000_000) else { return }
            var chunk = [UInt8](repeating: 0, count: 4096)
            _ = try? Socket.receive(fd, into: &chunk, deadline: SystemClock.monotonicNanoseconds() + 5_000_000_000, what: "canned")
            try? Socket.sendAll(fd, Array(response.utf8), deadline: nil, what: "canned")
            Socket.shutdown(fd, reading: false)
            Socket.close(fd)
        }
        thread.start()
        return (port, thread)
    }

    @Test func theClientReadsChunkedLengthAndCloseDelimitedBodies() throws {
        let chunked = try Self.canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
        let a = try HTTPClient(host: "127.0.0.1", port: chunked.port, timeout: 5).send(method: "GET", target: "/")
        #expect(a.status == 200 && String(decoding: a.body, as: UTF8.self) == "hello, world")

        let length = try Self.canned("HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabcdef")
        let b = try HTTPClient(host: "127.0.0.1", port: length.port, timeout: 5).send(method: "GET", target: "/")
        #expect(b.status == 201 && b.body == Array("abc".utf8) && b["x-a"] == "b")

        let untilClose = try Self.canned("HTTP/1.0 500 Oops\r\n\r\nbroken")
        let c = try HTTPClient(host: "127.0.0.1", port: untilClose.port, timeout: 5).send(method: "GET", target: "/")
        #expect(c.status == 500 && c.body == Array("broken".utf8))

        let cut = try Self.canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        #expect(throws: HTTPClient.Failure.truncated) {
            _ = try HTTPClient(host: "127.0.0.1", port: cut.port, timeout: 5).send(method: "GET", target: "/")
        }

        let large = try Self.canned("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100))
        #expect(throws: HTTPClient.Failure.tooLarge(64)) {
            _ = try HTTPClient(host: "127.0.0.1", port: large.port, timeout: 5, maximumResponseBytes: 64).send(method: "GET", target: "/")
        }
    }

    @Test func chunkedBodiesDecodeAsTheyArrive() throws {
        let whole = Array("4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n".utf8)
        #expect(try ChunkedBody.decode(whole) == (Array("wikipedia".utf8), true))
        #expect(try ChunkedBody.decode(Array(whole.prefix(12))) == (Array("wiki".utf8), false))
        #expect(try ChunkedBody.decode(ChunkedBody.encode(Array("abc".utf8))) == (Array("abc".utf8), true))
        #expect(throws: HTTPResponse.ParseError.malformedChunk) { try ChunkedBody.decode(Array("zz\r\nab\r\n".utf8)) }
        #expect(throws: HTTPResponse.ParseError.malformedChunk) { try ChunkedBody.decode(Array("2\r\nabXY0\r\n\r\n".utf8)) }
        // A size near Int.max waits for bytes that never come rather than overflowing.
        #expect(try ChunkedBody.decode(Array("7fffffffffffffff\r\nab".utf8)) == ([], false))
    }

    @Test func responseHeadsAreParsedAndMalformedOnesRefused() throws {
        let head = try HTTPResponse.parseHead(Array("HTTP/1.1 204 No Content\r\nServer: x\r\nA:  b ".utf8))
        #expect(head.status == 204 && head["server"] == "x" && head["a"] == "b")
        #expect(throws: HTTPResponse.ParseError.malformedStatusLine) { try HTTPResponse.parseHead(Array("SSH-2.0-OpenSSH\r\n".utf8)) }
        #expect(throws: HTTPResponse.ParseError.malformedHeader) { try HTTPResponse.parseHead(Array("HTTP/1.1 200 OK\r\nbroken\r\n".utf8)) }
    }
}
