import Testing
@testable import Content

private func text(_ words: [String]) -> String { words.joined(separator: " ") }
private let second: Int64 = 1_000_000_000

@Test func recordsEachDistinctMessageOnce() {
    var generator = SplitMix64(seed: 1)
    var ledger = Fixture.ledger()
    let history = [text(Fixture.words(40, using: &generator)), text(Fixture.words(40, using: &generator))]
    let first = ledger.record(texts: history, at: 1, requester: Fixture.process, runtime: Fixture.runtime, endpoint: .ollamaChat)
    let bytes = ledger.approximateBytes
    let next = ProcessRef(pid: 43, startTime: 1, program: "other")
    let again = ledger.record(texts: history + ["a new question with more than four words"], at: 2, requester: next,
                              runtime: Fixture.runtime, endpoint: .chatCompletions)
    #expect(first.count == 2)
    #expect(Array(again.prefix(2)) == first)
    #expect(ledger.count == 3)
    #expect(ledger.counters.repeats == 2)
    #expect(ledger.approximateBytes > bytes)
    let entry = first.first.flatMap { ledger.entry($0) }
    #expect(entry?.timesSeen == 2)
    #expect(entry?.firstSeen == 1)
    #expect(entry?.lastSeen == 2)
    #expect(entry?.requester == next)
    #expect(entry?.endpoint == .chatCompletions)
    #expect(entry?.words == 40)
    #expect(Fixture.record("too short", in: &ledger) == nil)
    #expect(ledger.counters.tooShort == 1)
}

@Test func expiresPromptsByAgeOfTheirLastSighting() {
    var generator = SplitMix64(seed: 2)
    var ledger = Fixture.ledger(configuration: .init(retention: 60 * second))
    let old = text(Fixture.words(20, using: &generator))
    let kept = text(Fixture.words(20, using: &generator))
    let refreshed = text(Fixture.words(20, using: &generator))
    Fixture.record(old, in: &ledger, at: 0)
    Fixture.record(refreshed, in: &ledger, at: 0)
    Fixture.record(kept, in: &ledger, at: 50 * second)
    Fixture.record(refreshed, in: &ledger, at: 55 * second)
    ledger.expire(now: 100 * second)
    #expect(ledger.count == 2)
    #expect(ledger.counters.expired == 1)
    #expect(Fixture.scan(Array(old.utf8), ledger: ledger).isEmpty)
    #expect(Fixture.scan(Array(refreshed.utf8), ledger: ledger).count == 1)
    ledger.expire(now: 200 * second)
    #expect(ledger.count == 0)
    #expect(ledger.approximateBytes == 0)
}

@Test func evictsTheOldestPromptsToStayWithinTheBudget() {
    var generator = SplitMix64(seed: 3)
    var ledger = Fixture.ledger(configuration: .init(memoryBudget: 20_000))
    var prompts: [String] = []
    for i in 0..<100 {
        let p = text(Fixture.words(60, using: &generator))
        prompts.append(p)
        Fixture.record(p, in: &ledger, at: Int64(i))
        #expect(ledger.approximateBytes <= 20_000)
    }
    #expect(ledger.counters.dropped > 0)
    #expect(ledger.count + ledger.counters.dropped == 100)
    #expect(Fixture.scan(Array(prompts[0].utf8), ledger: ledger).isEmpty)
    #expect(Fixture.scan(Array(prompts[99].utf8), ledger: ledger).count == 1)
}

@Test func capsTheWordsOfOneHugePrompt() {
    var generator = SplitMix64(seed: 4)
    var ledger = Fixture.ledger(configuration: .init(maximumWordsPerPrompt: 100))
    let words = Fixture.words(150, using: &generator)
    let id = Fixture.record(text(words), in: &ledger)
    #expect(id.flatMap { ledger.entry($0)?.words } == 100)
    #expect(ledger.counters.skippedWords == 50)
    #expect(Fixture.scan(Array(text(Array(words[110...])).utf8), ledger: ledger).isEmpty)
}

@Test func reportsTheMemoryOfAThousandSixtyWordPrompts() {
    var generator = SplitMix64(seed: 5)
    var ledger = Fixture.ledger()
    for i in 0..<1000 { Fixture.record(text(Fixture.words(60, using: &generator)), in: &ledger, at: Int64(i)) }
    #expect(ledger.count == 1000)
    let perPrompt = ledger.approximateBytes / 1000
    // 57 shingles at 8 bytes, ~20 indexed fingerprints, and the entry itself.
    #expect(perPrompt > 57 * 8)
    #expect(perPrompt < 2048)
    let entry = ledger.entry(PromptID(rawValue: 1))
    #expect((entry?.approximateBytes ?? 0) > 0)
}
