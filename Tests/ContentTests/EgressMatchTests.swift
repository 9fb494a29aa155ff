import Testing
@testable import Content

private func text(_ words: [String]) -> String { words.joined(separator: " ") }

/// JSON string content with every non-ASCII character as a `\uXXXX` escape.
private func jsonEscaped(_ s: String) -> String {
    var out = ""
    for unit in s.utf16 {
        switch unit {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
        default:
            let hex = String(unit, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
    return out
}

@Test func findsEveryRandomSharedRunOfEightWords() {
    var generator = SplitMix64(seed: 2024)
    for _ in 0..<100 {
        var ledger = Fixture.ledger()
        let prompt = Fixture.words(60, using: &generator)
        let id = Fixture.record(text(prompt), in: &ledger)
        let start = Int.random(in: 0...(prompt.count - 8), using: &generator)
        let shared = Array(prompt[start..<(start + 8)])
        let egress = text(Fixture.words(20, using: &generator) + shared + Fixture.words(20, using: &generator))
        let found = Fixture.scan(Array(egress.utf8), ledger: ledger)
        #expect(id.map { found[.prompt($0)] } == 8)
    }
}

@Test func doesNotReportASevenWordOverlap() {
    var generator = SplitMix64(seed: 99)
    for _ in 0..<50 {
        var ledger = Fixture.ledger()
        let prompt = Fixture.words(60, using: &generator)
        Fixture.record(text(prompt), in: &ledger)
        let start = Int.random(in: 0...(prompt.count - 7), using: &generator)
        let egress = text(Fixture.words(10, using: &generator) + prompt[start..<(start + 7)] + Fixture.words(10, using: &generator))
        #expect(Fixture.scan(Array(egress.utf8), ledger: ledger).isEmpty)
    }
}

@Test func measuresAPartialForwardExactly() {
    var generator = SplitMix64(seed: 5)
    var ledger = Fixture.ledger()
    let prompt = Fixture.words(200, using: &generator)
    let id = Fixture.record(text(prompt), in: &ledger)
    let egress = "POST /collect HTTP/1.1\r\n\r\n{\"data\":\"" + text(Array(prompt[90..<104])) + "\",\"n\":1}"
    #expect(id.map { Fixture.scan(Array(egress.utf8), ledger: ledger)[.prompt($0)] } == 14)
    // The whole prompt, sent in random pieces, is one run of 200.
    var sizes: [Int] = []
    for _ in 0..<2000 { sizes.append(Int.random(in: 1...40, using: &generator)) }
    let whole = Array(text(prompt).utf8)
    #expect(id.map { Fixture.scan(whole, chunks: sizes, ledger: ledger)[.prompt($0)] } == 200)
}

@Test func findsAPromptForwardedInsideJSONWithEscapes() {
    var ledger = Fixture.ledger()
    let prompt = "Please review this \"draft\" of my résumé.\nI worked at Acme for five years as an engineer and led the café project."
    let id = Fixture.record(prompt, in: &ledger)
    let wordCount = TextNormalizer.words(of: prompt).count
    let escaped = #"{"event":"prompt","payload":{"text":"Please review this \"draft\" of my r\u00e9sum\u00e9.\nI worked at Acme for five years as an engineer and led the caf\u00e9 project."}}"#
    #expect(id.map { Fixture.scan(Array(escaped.utf8), ledger: ledger)[.prompt($0)] } == wordCount)
    // Upper-cased, escaped the way a JSON encoder escapes, and split into many chunks at random boundaries.
    var generator = SplitMix64(seed: 11)
    let upper = Array(("{\"TEXT\":\"" + jsonEscaped(prompt.uppercased()) + "\"}").utf8)
    for _ in 0..<20 {
        let sizes = (0..<upper.count).map { _ in Int.random(in: 1...9, using: &generator) }
        #expect(id.map { Fixture.scan(upper, chunks: sizes, ledger: ledger)[.prompt($0)] } == wordCount)
    }
}

@Test func findsAPromptInAPercentEncodedForm() {
    var ledger = Fixture.ledger()
    let prompt = "Meet me at the old café near the station at nine tomorrow morning, bring the documents."
    let id = Fixture.record(prompt, in: &ledger)
    let form = "q=Meet+me+at+the+old+caf%C3%A9+near+the+station+at+nine+tomorrow+morning%2C+bring+the+documents.&src=x"
    #expect(id.map { Fixture.scan(Array(form.utf8), chunks: [7, 3, 11, 2, 50, 1, 100], ledger: ledger)[.prompt($0)] } == 16)
}

@Test func findsNothingInUnrelatedTextOrUnderAnotherSalt() {
    var generator = SplitMix64(seed: 3)
    var ledger = Fixture.ledger()
    let prompt = Fixture.words(100, using: &generator)
    Fixture.record(text(prompt), in: &ledger)
    #expect(Fixture.scan(Array(text(Fixture.words(500, using: &generator)).utf8), ledger: ledger).isEmpty)

    var salted = Fixture.ledger(salt: Fixture.otherSalt)
    Fixture.record(text(prompt), in: &salted)
    let other = Fixture.ledger()
    #expect(Fixture.scan(Array(text(prompt).utf8), ledger: other).isEmpty)
    #expect(!Fixture.scan(Array(text(prompt).utf8), ledger: salted).isEmpty)
}

@Test func reportsAPromptOnceAndThenOnlyWhenTheRunGrows() {
    var generator = SplitMix64(seed: 8)
    var ledger = Fixture.ledger()
    let prompt = Fixture.words(100, using: &generator)
    guard let id = Fixture.record(text(prompt), in: &ledger) else {
        Issue.record("not recorded")
        return
    }
    let canaries = CanarySet(fingerprinter: ledger.fingerprinter)
    var stream = EgressStream()
    let first = stream.scan(Array((text(Array(prompt[0..<10])) + " zzz ").utf8), ledger: ledger, canaries: canaries)
    #expect(first == [ContentMatch(subject: .prompt(id), matchedWords: 10, isUpdate: false)])
    let same = stream.scan(Array((text(Array(prompt[20..<30])) + " zzz ").utf8), ledger: ledger, canaries: canaries)
    #expect(same.isEmpty)
    let longer = stream.scan(Array((text(Array(prompt[40..<60])) + " zzz ").utf8), ledger: ledger, canaries: canaries)
    #expect(longer == [ContentMatch(subject: .prompt(id), matchedWords: 20, isUpdate: true)])
}

@Test func stopsScanningAtTheByteLimit() {
    var generator = SplitMix64(seed: 12)
    var ledger = Fixture.ledger()
    let prompt = Fixture.words(30, using: &generator)
    Fixture.record(text(prompt), in: &ledger)
    let canaries = CanarySet(fingerprinter: ledger.fingerprinter)
    var stream = EgressStream(byteLimit: 10)
    let bytes = Array(text(prompt).utf8)
    #expect(stream.scan(bytes, ledger: ledger, canaries: canaries).isEmpty)
    #expect(stream.finish(ledger: ledger, canaries: canaries).isEmpty)
    #expect(stream.scannedBytes == 10)
    #expect(stream.skippedBytes == bytes.count - 10)
}

@Test func matchesRandomForwardsWhateverTheChunking() {
    // Property: for any seed, a run of n ≥ 8 prompt words embedded in noise and cut into random
    // chunks is reported as exactly n words.
    for seed in UInt64(100)..<UInt64(140) {
        var generator = SplitMix64(seed: seed)
        var ledger = Fixture.ledger()
        let prompt = Fixture.words(Int.random(in: 20...120, using: &generator), using: &generator)
        guard let id = Fixture.record(text(prompt), in: &ledger) else { continue }
        let n = Int.random(in: 8...prompt.count, using: &generator)
        let start = Int.random(in: 0...(prompt.count - n), using: &generator)
        let noiseBefore = Fixture.words(Int.random(in: 0...30, using: &generator), using: &generator)
        let noiseAfter = Fixture.words(Int.random(in: 0...30, using: &generator), using: &generator)
        let egress = Array(("{\"m\":\"" + text(noiseBefore + prompt[start..<(start + n)] + noiseAfter) + "\"}").utf8)
        let sizes = (0..<egress.count).map { _ in Int.random(in: 1...64, using: &generator) }
        #expect(Fixture.scan(egress, chunks: sizes, ledger: ledger)[.prompt(id)] == n, "seed \(seed)")
    }
}
