/// A prompt or canary found in an egress stream.
public struct ContentMatch: Sendable, Equatable {
    /// What was found.
    public enum Subject: Sendable, Hashable {
        /// Words of a recorded prompt.
        case prompt(PromptID)
        /// A planted canary token.
        case canary(CanarySet.ID)
    }

    /// What was found.
    public var subject: Subject
    /// The longest run of consecutive prompt words seen in this stream so far (1 for a canary).
    public var matchedWords: Int
    /// Whether this stream reported the same subject before with a shorter run.
    public var isUpdate: Bool
}

/// The matching state of one egress stream (one direction of one flow), fed its plaintext in order.
///
/// Words are hashed as on the prompt side; each shingle is looked up in the ledger's index of
/// winnowed fingerprints, and a hit is extended backwards over the stream's recent shingles and then
/// forwards, shingle by shingle, against the prompt's full sequence, so the reported run is exact.
/// Winnowing guarantees a hit within the first `window` shingles of any shared run that is long
/// enough, so the backward window only needs to reach that far (it keeps 64 shingles).
///
/// A prompt is reported when its run reaches `minimumWords`, at the end of the `scan` call that saw
/// it (or when the run ends); if a later run, or the same run continuing in a later chunk, is longer,
/// it is reported again with `isUpdate` set, so the last report for a prompt carries the longest run.
/// A canary is reported once, on its first occurrence. Idle, the stream holds no heap memory beyond
/// its small arrays; scanning stops after `byteLimit` bytes and the rest is counted.
public struct EgressStream: Sendable {
    /// An open run: the stream's latest shingles equal a prompt's, up to `next`.
    private struct Candidate: Sendable {
        var serial: UInt64
        var shingles: [UInt64]
        var next: Int
        var length: Int
    }

    /// The shortest run of prompt words reported.
    public let minimumWords: Int
    /// The most bytes scanned; later bytes are counted in `skippedBytes`.
    public let byteLimit: Int
    /// Bytes scanned.
    public private(set) var scannedBytes = 0
    /// Bytes past `byteLimit`, not scanned.
    public private(set) var skippedBytes = 0

    private static let recentCapacity = 64
    private static let maximumCandidates = 16

    private var words = WordStream()
    private var lastWords: [UInt64] = []
    private var wordCount = 0
    private var recent: [UInt64] = []
    private var shingleCount = 0
    private var candidates: [Candidate] = []
    private var reported: [UInt64: Int] = [:]
    private var reportedCanaries: Set<CanarySet.ID> = []

    /// A stream at its start.
    public init(minimumWords: Int = 8, byteLimit: Int = 64 * 1024 * 1024) {
        self.minimumWords = max(1, minimumWords)
        self.byteLimit = max(0, byteLimit)
    }

    /// Scans the next chunk of the stream and returns what it newly found.
    public mutating func scan(_ bytes: some Collection<UInt8>, ledger: PromptLedger, canaries: CanarySet) -> [ContentMatch] {
        let room = max(0, byteLimit - scannedBytes)
        let count = bytes.count
        let hashes: [UInt64]
        if count <= room {
            hashes = words.wordHashes(bytes, fingerprinter: ledger.fingerprinter)
            scannedBytes += count
        } else {
            hashes = words.wordHashes(bytes.prefix(room), fingerprinter: ledger.fingerprinter)
            scannedBytes += room
            skippedBytes += count - room
        }
        return process(hashes, ledger: ledger, canaries: canaries, final: false)
    }

    /// Ends the stream: the last word is matched and every open run reported.
    public mutating func finish(ledger: PromptLedger, canaries: CanarySet) -> [ContentMatch] {
        let hashes = words.finishWordHashes(fingerprinter: ledger.fingerprinter)
        return process(hashes, ledger: ledger, canaries: canaries, final: true)
    }

    /// Matches a batch of word hashes and reports what grew, at the batch's end.
    private mutating func process(_ hashes: [UInt64], ledger: PromptLedger, canaries: CanarySet, final: Bool) -> [ContentMatch] {
        var matches: [ContentMatch] = []
        var ended: [(serial: UInt64, length: Int)] = []
        let k = ledger.fingerprinter.shingleWords
        for word in hashes {
            if let canary = canaries.token(forWord: word), !reportedCanaries.contains(canary) {
                reportedCanaries.insert(canary)
                matches.append(ContentMatch(subject: .canary(canary), matchedWords: 1, isUpdate: false))
            }
            // The last k words, as a ring: the oldest sits at wordCount % k once it is full.
            if lastWords.count < k {
                lastWords.append(word)
            } else {
                lastWords[wordCount % k] = word
            }
            wordCount += 1
            guard lastWords.count == k else { continue }
            let shingle = lastWords.withUnsafeBufferPointer { ledger.fingerprinter.shingleHash(ring: $0, start: wordCount % k) }
            step(shingle, ledger: ledger, ended: &ended)
        }
        for e in ended { report(e.serial, shingles: e.length, k: k, into: &matches) }
        for c in candidates { report(c.serial, shingles: c.length, k: k, into: &matches) }
        if final { candidates.removeAll() }
        return matches
    }

    /// Extends open runs with one shingle, then opens runs at the prompts it is a fingerprint of.
    private mutating func step(_ shingle: UInt64, ledger: PromptLedger, ended: inout [(serial: UInt64, length: Int)]) {
        var i = 0
        while i < candidates.count {
            let c = candidates[i]
            if c.next < c.shingles.count && c.shingles[c.next] == shingle {
                candidates[i].next += 1
                candidates[i].length += 1
                i += 1
            } else {
                ended.append((c.serial, c.length))
                candidates.remove(at: i)
            }
        }
        if ledger.isIndexed(shingle) {
            openRuns(at: shingle, ledger: ledger)
        }
        if recent.count < Self.recentCapacity {
            recent.append(shingle)
        } else {
            recent[shingleCount % Self.recentCapacity] = shingle
        }
        shingleCount += 1
    }

    /// Opens a run at each prompt position a fingerprint is indexed under, extended backwards.
    private mutating func openRuns(at shingle: UInt64, ledger: PromptLedger) {
        ledger.forEachPosting(shingle) { serial, position in
            if candidates.contains(where: { $0.serial == serial && $0.next == position + 1 }) { return }
            guard candidates.count < Self.maximumCandidates, let shingles = ledger.shingles(ofSerial: serial),
                  position < shingles.count else { return }
            var back = 0
            let reach = min(position, recentCount)
            while back < reach && recentShingle(back) == shingles[position - 1 - back] { back += 1 }
            candidates.append(Candidate(serial: serial, shingles: shingles, next: position + 1, length: back + 1))
        }
    }

    private var recentCount: Int { min(shingleCount, Self.recentCapacity) }

    /// The shingle `back` places before the current one (0 is the one just before).
    private func recentShingle(_ back: Int) -> UInt64 {
        recent[(shingleCount - 1 - back) % Self.recentCapacity]
    }

    /// Adds a report for a run that reached `minimumWords` and is longer than any reported before.
    private mutating func report(_ serial: UInt64, shingles: Int, k: Int, into matches: inout [ContentMatch]) {
        let words = shingles + k - 1
        guard words >= minimumWords else { return }
        let previous = reported[serial]
        guard words > (previous ?? 0) else { return }
        reported[serial] = words
        let subject = ContentMatch.Subject.prompt(PromptID(rawValue: serial))
        if let at = matches.firstIndex(where: { $0.subject == subject }) {
            matches[at].matchedWords = words
        } else {
            matches.append(ContentMatch(subject: subject, matchedWords: words, isUpdate: previous != nil))
        }
    }
}
