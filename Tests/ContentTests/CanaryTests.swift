import Testing
@testable import Content

@Test func generatesATokenThatIsOneWord() throws {
    var generator = SplitMix64(seed: 6)
    let token = try Canary.generate(randomBytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    #expect(token.hasPrefix("ttc"))
    #expect(token.count == 23)
    #expect(TextNormalizer.words(of: token) == [token])
    #expect(throws: Canary.GenerationError.notEnoughRandomBytes(4)) { try Canary.generate(randomBytes: [1, 2, 3, 4]) }
    #expect(try Canary.generate(randomBytes: [UInt8](repeating: 0, count: 13)) == "ttc" + String(repeating: "a", count: 20))
    #expect(try Canary.generate(randomBytes: [UInt8](repeating: 0xFF, count: 13)) == "ttc" + String(repeating: "7", count: 20))
}

@Test func findsACanaryUpperCasedInsideJSONOnce() throws {
    let ledger = Fixture.ledger()
    var canaries = CanarySet(fingerprinter: ledger.fingerprinter)
    let token = try Canary.generate(randomBytes: Array(1...13))
    guard let id = canaries.insert(token: token, label: "notes.md") else {
        Issue.record("token not accepted")
        return
    }
    #expect(canaries.insert(token: "two words", label: "x") == nil)
    #expect(canaries.label(id) == "notes.md")
    let body = Array(("{\"k\":\"" + token.uppercased() + "\",\"again\":\"" + token + "\"}").utf8)
    let found = Fixture.scan(body, chunks: [5, 5, 5, 5, 5, 5, 5], ledger: ledger, canaries: canaries)
    #expect(found == [.canary(id): 1])
    var stream = EgressStream()
    let once = stream.scan(body, ledger: ledger, canaries: canaries)
    #expect(once == [ContentMatch(subject: .canary(id), matchedWords: 1, isUpdate: false)])
    let encoded = Array(("a=%22" + token + "%22").utf8)
    #expect(Fixture.scan(encoded, ledger: ledger, canaries: canaries) == [.canary(id): 1])
}

@Test func fuzzEntryPointsReturnOnHostileInput() {
    var generator = SplitMix64(seed: 77)
    let seeds: [[UInt8]] = [
        [], [0], Array("POST /api/chat HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n".utf8),
        Array(String(repeating: "[", count: 10_000).utf8), Array(#"{"messages":[{"content":"\ud800\"#.utf8),
    ]
    for input in seeds {
        ContentFuzz.requestStream(input)
        ContentFuzz.promptText(input)
        ContentFuzz.egress(input)
    }
    for _ in 0..<200 {
        let input = (0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        ContentFuzz.requestStream(input)
        ContentFuzz.promptText(input)
        ContentFuzz.egress(input)
    }
}
