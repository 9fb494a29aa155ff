import NameParsing
import Testing

@Suite struct ClientHelloTests {
    @Test func readsTheServerNameAndALPN() throws {
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "Tracker.Example", alpn: ["h2", "http/1.1"]))
        let hello = try records.withUnsafeBytes { try ClientHelloParser.parseRecords($0) }
        #expect(hello == ClientHello(serverName: "tracker.example", encryptedClientHello: false, applicationProtocols: ["h2", "http/1.1"]))
    }

    @Test func recognisesEncryptedClientHello() throws {
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "public.cdn.example", ech: true))
        let hello = try records.withUnsafeBytes { try ClientHelloParser.parseRecords($0) }
        #expect(hello.serverName == "public.cdn.example")
        #expect(hello.encryptedClientHello)
    }

    @Test func saysHowManyBytesAreMissingWhenCut() throws {
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "long.example", padding: 1500))
        let head = Array(records.prefix(700))
        #expect(throws: ClientHelloError.incomplete(needed: records.count)) {
            try head.withUnsafeBytes { try ClientHelloParser.parseRecords($0) }
        }
    }

    @Test func joinsAClientHelloSpreadOverSeveralRecords() throws {
        let records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "split.example", padding: 600), recordSize: 200)
        let hello = try records.withUnsafeBytes { try ClientHelloParser.parseRecords($0) }
        #expect(hello.serverName == "split.example")
    }

    @Test func rejectsAServerHello() {
        var records = ClientHelloBuilder.records(ClientHelloBuilder.handshake(serverName: "x.example"))
        records[5] = 2
        #expect(throws: ClientHelloError.notClientHello) { try records.withUnsafeBytes { try ClientHelloParser.parseRecords($0) } }
    }

    @Test func rejectsAnExtensionLongerThanTheMessage() {
        var handshake = ClientHelloBuilder.handshake(serverName: "x.example")
        // The SNI extension's length sits right after its type, 2 bytes into the extensions block.
        let extensionsStart = 4 + 2 + 32 + 33 + 6 + 2 + 2
        handshake[extensionsStart + 2] = 0x7f
        #expect(throws: ClientHelloError.malformed) { try handshake.withUnsafeBytes { try ClientHelloParser.parseHandshake($0) } }
    }
}

@Suite struct HTTPRequestHostTests {
    @Test func readsTheHostHeaderWithoutItsPort() {
        let request = Array("GET /collect?x=1 HTTP/1.1\r\nUser-Agent: t\r\nHOST: Metrics.Example:8080\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { HTTPRequestHost.host(in: $0) } == "metrics.example")
    }

    @Test func readsTheTargetOfAConnectRequest() {
        let request = Array("CONNECT upstream.example:443 HTTP/1.1\r\nHost: proxy.local\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { HTTPRequestHost.host(in: $0) } == "upstream.example")
    }

    @Test func ignoresResponsesAndHostsWithControlCharacters() {
        let response = Array("HTTP/1.1 200 OK\r\nHost: nope.example\r\n\r\n".utf8)
        #expect(response.withUnsafeBytes { HTTPRequestHost.host(in: $0) } == nil)
        let hostile = Array("GET / HTTP/1.1\r\nHost: evil\u{1b}[31m.example\r\n\r\n".utf8)
        #expect(hostile.withUnsafeBytes { HTTPRequestHost.host(in: $0) } == nil)
    }
}
