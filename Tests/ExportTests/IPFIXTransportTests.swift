import Export
import Posix
import Foundation
import Testing
import TestSupport

/// IPFIX over TCP to a real listener on loopback (a Python socket server started by the test).
@Suite struct IPFIXTransportTests {
    static let listener = """
        import socket, sys
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        print(s.getsockname()[1], flush=True)
        s.settimeout(20)
        c, _ = s.accept()
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        open(sys.argv[1], "wb").write(data)
        """

    @Test func overTCPTheTemplatesGoOnceAndMessagesFollowEachOther() throws {
        let dir = try ScratchDirectory.make("ipfix-tcp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try TestProcess.Background(["python3", "-c", Self.listener, dir + "/stream"], directory: dir, name: "server")
        defer { server.stop() }
        var port: UInt16?
        for _ in 0..<100 where port == nil {
            port = UInt16(server.output.trimmingCharacters(in: .whitespacesAndNewlines))
            if port == nil { usleep(50_000) }
        }
        let listening = try #require(port, "the listener did not start: \(server.error)")
        do {
            let exporter = try IPFIXExporter(
                collector: .inet(host: "127.0.0.1", port: listening), transport: .tcp, templateRefresh: 1,
                encoder: IPFIXEncoder(observerHostname: "h"))
            exporter.send((0..<30).map { IPFIXEncoderTests.row("Ca\($0)") }, now: 1_000_000_000_000)
            exporter.send((0..<30).map { IPFIXEncoderTests.row("Cb\($0)", v6: true) }, now: 2_000_000_000_000)
            #expect(exporter.flowsSent == 60 && exporter.flowsDropped == 0)
            #expect(exporter.lastError == nil)
        }  // the exporter closes its connection here
        #expect(server.waitForExit(seconds: 10))
        let stream = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/stream")))
        var reader = IPFIXReader()
        var offset = 0, messages = 0, templateSets = 0
        while offset < stream.count {
            let length = IPFIXReader.u16(stream, offset + 2)
            let message = Array(stream[offset..<offset + length])
            if IPFIXReader.u16(message, 16) == 2 { templateSets += 1 }
            try reader.read(message)
            offset += length
            messages += 1
        }
        #expect(offset == stream.count)
        #expect(templateSets == 1)  // once per connection, whatever the refresh interval
        #expect(reader.records.count == 120)
        #expect(messages > 2)
    }

    @Test func aCollectorThatIsNotThereCostsCountedDrops() throws {
        // A port nothing listens on: bind one, note it, close it.
        let probe = try TestProcess.run(["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        let port = try #require(UInt16(probe.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let exporter = try IPFIXExporter(
            collector: .inet(host: "127.0.0.1", port: port), transport: .tcp, encoder: IPFIXEncoder(observerHostname: "h"))
        exporter.send([IPFIXEncoderTests.row("C1")], now: 1_000_000_000_000)
        // Within the retry pause, nothing is attempted: dropped at once.
        exporter.send([IPFIXEncoderTests.row("C2"), IPFIXEncoderTests.row("C3")], now: 1_001_000_000_000)
        #expect(exporter.flowsSent == 0 && exporter.flowsDropped == 3)
        #expect(exporter.lastError?.contains("cannot connect to 127.0.0.1:\(port) over tcp") == true)
    }
}
