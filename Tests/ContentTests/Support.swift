@testable import Content

/// A seeded generator so every "random" test is repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixture {
    static let salt: [UInt8] = Array(0..<16)
    static let otherSalt: [UInt8] = Array(100..<116)
    static let process = ProcessRef(pid: 42, startTime: 1000, program: "chat-client")
    static let runtime = ProcessRef(pid: 7, startTime: 10, program: "ollama")

    static func fingerprinter(salt: [UInt8] = salt) -> Fingerprinter {
        // The salts above are 16 bytes, so this cannot fail.
        (try? Fingerprinter(salt: salt)) ?? { preconditionFailure("fixture salt") }()
    }

    /// Words made of random letters, long enough that two of them almost never collide.
    static func words(_ count: Int, using generator: inout SplitMix64) -> [String] {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return (0..<count).map { _ in
            let length = Int.random(in: 3...9, using: &generator)
            return String((0..<length).map { _ in letters[Int.random(in: 0..<26, using: &generator)] })
        }
    }

    static func ledger(salt: [UInt8] = salt, configuration: PromptLedger.Configuration = .init()) -> PromptLedger {
        PromptLedger(fingerprinter: fingerprinter(salt: salt), configuration: configuration)
    }

    @discardableResult
    static func record(_ text: String, in ledger: inout PromptLedger, at time: Int64 = 0) -> PromptID? {
        ledger.record(text: text, at: time, requester: process, runtime: runtime, endpoint: .chatCompletions)
    }

    /// Scans `text` as one egress stream in the given chunks and returns the longest run per subject.
    static func scan(
        _ bytes: [UInt8], chunks: [Int]? = nil, ledger: PromptLedger, canaries: CanarySet? = nil, minimumWords: Int = 8
    ) -> [ContentMatch.Subject: Int] {
        let canaries = canaries ?? CanarySet(fingerprinter: ledger.fingerprinter)
        var stream = EgressStream(minimumWords: minimumWords)
        var found: [ContentMatch.Subject: Int] = [:]
        var start = 0
        var sizes = (chunks ?? [bytes.count]).makeIterator()
        while start < bytes.count {
            let size = max(1, sizes.next() ?? bytes.count)
            let end = min(bytes.count, start + size)
            for m in stream.scan(bytes[start..<end], ledger: ledger, canaries: canaries) {
                found[m.subject] = max(found[m.subject] ?? 0, m.matchedWords)
            }
            start = end
        }
        for m in stream.finish(ledger: ledger, canaries: canaries) {
            found[m.subject] = max(found[m.subject] ?? 0, m.matchedWords)
        }
        return found
    }
}
