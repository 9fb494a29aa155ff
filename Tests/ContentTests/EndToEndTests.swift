import Testing
@testable import Content

@Test func recordsAPromptFromARequestStreamAndFindsItInEgress() throws {
    let fingerprinter = try Fingerprinter(salt: Fixture.salt)
    var ledger = PromptLedger(fingerprinter: fingerprinter)
    let canaries = CanarySet(fingerprinter: fingerprinter)

    let body = #"{"model":"llama3","messages":[{"role":"user","content":"My account number is 4417 and my sister Maria lives at 12 Harbour Lane in Cork."}],"stream":false}"#
    let wire = Array("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    var loopback = HTTPRequestStream()
    var ids: [PromptID] = []
    for segment in stride(from: 0, to: wire.count, by: 100).map({ wire[$0..<min(wire.count, $0 + 100)] }) {
        for request in loopback.feed(segment) {
            guard let endpoint = RuntimeEndpoint(request: request) else { continue }
            let texts = try PromptText.texts(endpoint: endpoint, body: request.body, contentEncoding: request.contentEncoding)
            ids += ledger.record(texts: texts, at: 1, requester: Fixture.process, runtime: Fixture.runtime, endpoint: endpoint)
        }
    }
    #expect(ids.count == 1)

    var egress = EgressStream()
    let upload = Array(#"{"note":"my ACCOUNT number is 4417 and my sister Maria lives at 12 Harbour Lane"}"#.utf8)
    var matches = egress.scan(upload[0..<30], ledger: ledger, canaries: canaries)
    matches += egress.scan(upload[30...], ledger: ledger, canaries: canaries)
    matches += egress.finish(ledger: ledger, canaries: canaries)
    #expect(matches.last?.subject == ids.first.map { .prompt($0) })
    #expect(matches.last?.matchedWords == 14)
    #expect(ids.first.flatMap { ledger.entry($0)?.endpoint } == .ollamaChat)
}

@Test func extractsOllamaChatMessages() throws {
    let json = #"{"model":"m","messages":[{"role":"user","content":"hi there","images":["aGVsbG8="]},{"role":"assistant","content":"hello"}],"options":{"system":"no"}}"#
    #expect(try PromptText.texts(endpoint: .ollamaChat, body: Array(json.utf8)) == ["hi there"])
}
