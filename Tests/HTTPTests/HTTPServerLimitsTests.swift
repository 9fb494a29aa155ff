import Foundation
import Logging
import Testing

import HTTP

/// The model server's guarantees against web pages and stuck clients, tried with raw sockets on loopback.
@Suite(.serialized) struct HTTPServerLimitsTests {
    /// A server answering every request with 200 "ok", running on a thread until `stop()`.
    final class Running: @unchecked Sendable {
        let server: HTTPServer
        init(limits: HTTPServer.Limits = HTTPServer.Limits()) throws {
            server = try HTTPServer(host: "127.0.0.1", port: 0, logger: Logger(label: "test"), limits: limits) { _, writer in
                writer.send(status: 200, contentType: "text/plain", body: Array("ok".utf8))
            }
            let thread = Thread { [server] in server.run() }
            thread.start()
        }
        deinit { server.stop() }

        /// A connected client socket.
        func connect() throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(server.port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard status == 0 else { throw POSIXError(.ECONNREFUSED) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }

        /// Sends `request` and reads the answer until the server closes.
        func exchange(_ request: String) throws -> String {
            let fd = try connect()
            defer { close(fd) }
            send(fd, request)
            return receiveAll(fd)
        }
    }

    /// Waits up to ten seconds for `condition`.
    static func wait(_ condition: () -> Bool) -> Bool {
        for _ in 0..<1000 where !condition() { usleep(10_000) }
        return condition()
    }

    static func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    static func receiveAll(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            out += chunk[0..<count]
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func loopbackNamesAreAnswered() throws {
        let running = try Running()
        for host in ["127.0.0.1", "localhost", "LOCALHOST:\(running.server.port)", "[::1]:\(running.server.port)"] {
            let answer = try running.exchange("GET /health HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(host): \(answer)")
        }
        let local = try running.exchange("GET / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:3000\r\n\r\n")
        #expect(local.hasPrefix("HTTP/1.1 200"), "\(local)")
    }

    @Test func aRebindingHostOrACrossSiteOriginIsRefused() throws {
        let running = try Running()
        let rebound = try running.exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 2\r\n\r\n{}")
        #expect(rebound.hasPrefix("HTTP/1.1 403"), "\(rebound)")
        let crossSite = try running.exchange("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\nContent-Length: 2\r\n\r\n{}")
        #expect(crossSite.hasPrefix("HTTP/1.1 403"), "\(crossSite)")
        // A sandboxed frame or a data: page sends `Origin: null`: a page, so foreign too.
        for origin in ["null", "NULL", " null"] {
            let sandboxed = try running.exchange("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: \(origin)\r\nContent-Length: 2\r\n\r\n{}")
            #expect(sandboxed.hasPrefix("HTTP/1.1 403"), "\(origin): \(sandboxed)")
        }
        let noHost = try running.exchange("GET /health HTTP/1.1\r\n\r\n")
        #expect(noHost.hasPrefix("HTTP/1.1 403"), "\(noHost)")
    }

    @Test func aClientThatNeverFinishesItsRequestIsCutOff() throws {
        var limits = HTTPServer.Limits()
        limits.requestDeadline = 1
        limits.ioTimeout = 1
        let running = try Running(limits: limits)
        let fd = try running.connect()
        defer { close(fd) }
        Self.send(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"pro")
        let started = Date()
        let answer = Self.receiveAll(fd)
        #expect(Date().timeIntervalSince(started) < 9, "the server did not cut the client off before the client's own timeout")
        #expect(answer.hasPrefix("HTTP/1.1 408") || answer.isEmpty, "\(answer)")
        // A head that never ends is cut off too.
        let stalled = try running.connect()
        defer { close(stalled) }
        Self.send(stalled, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        #expect(Self.receiveAll(stalled).hasPrefix("HTTP/1.1 408"))
    }

    @Test func connectionsPastTheCapAreTurnedAwayAtOnce() throws {
        var limits = HTTPServer.Limits()
        limits.connections = 2
        limits.ioTimeout = 5
        let running = try Running(limits: limits)
        // Closed once, below: closing a descriptor twice could close a later test's socket.
        let held = try (0..<2).map { _ in try running.connect() }
        #expect(Self.wait { running.server.load.connections == 2 })
        let extra = try running.exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(extra.hasPrefix("HTTP/1.1 503"), "\(extra)")
        held.forEach { close($0) }
        #expect(Self.wait { running.server.load.connections == 0 })
        let later = try running.exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(later.hasPrefix("HTTP/1.1 200"), "a freed slot serves again: \(later)")
    }

    @Test func bodiesHeldAtOnceStayWithinTheBudget() throws {
        var limits = HTTPServer.Limits()
        limits.bodyBudget = 1000
        let running = try Running(limits: limits)
        // One body of 800 bytes is announced and held back; a second of 800 would pass the budget.
        let holding = try running.connect()
        defer { close(holding) }
        Self.send(holding, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 800\r\n\r\n{")
        #expect(Self.wait { running.server.load.bodyBytes == 800 })
        let second = try running.exchange("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 800\r\n\r\n" + String(repeating: "x", count: 800))
        #expect(second.hasPrefix("HTTP/1.1 503"), "\(second)")
        let small = try running.exchange("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100))
        #expect(small.hasPrefix("HTTP/1.1 200"), "\(small)")
    }

    @Test func theBlankLineIsFoundWhenOnlyTheNewBytesAreSearched() {
        // A head sent a byte at a time: each step searches from three bytes before the new one.
        var buffer: [UInt8] = []
        var found: [Int] = []
        for byte in Array("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest".utf8) {
            let from = max(0, buffer.count - 3)
            buffer.append(byte)
            if let at = HTTPRequest.headEnd(in: buffer, from: from) { found.append(at) }
        }
        #expect(found == [23])
        #expect(HTTPRequest.headEnd(in: Array("ab\r\n\r".utf8), from: 0) == nil)
    }
}
