/// One prompt (one distinct message text) held by a `PromptLedger`.
public struct PromptID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// A serial number, increasing in the order prompts were first recorded.
    public let rawValue: UInt64

    /// The id with this serial.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (a: PromptID, b: PromptID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "prompt-\(rawValue)" }
}

/// A process as the caller identifies it: enough to tell a reused pid apart.
public struct ProcessRef: Hashable, Sendable {
    /// The process id.
    public var pid: Int32
    /// The process start time, in the caller's units (boot-relative ticks or nanoseconds).
    public var startTime: UInt64
    /// The program name or path.
    public var program: String

    public init(pid: Int32, startTime: UInt64, program: String) {
        self.pid = pid
        self.startTime = startTime
        self.program = program
    }
}

/// The fingerprints of prompts sent to local model runtimes, in memory only; never their text.
///
/// The unit is one message text: chat clients resend the whole history every turn, so each text is
/// fingerprinted on its own and an identical text (same word-hash sequence) is stored once. A repeat
/// refreshes the entry's `lastSeen`, requester, runtime and endpoint to the latest sighting and
/// counts `timesSeen`; `firstSeen` stays. For each prompt the ledger keeps every shingle hash
/// (8 bytes per word, to measure an exact matched run) and indexes its winnowed fingerprints.
/// Entries leave by age (`expire(now:)`, measured from `lastSeen`) and, least recently seen first,
/// whenever `approximateBytes` exceeds the memory budget. Times are expected not to go backwards;
/// one that does only delays that prompt's expiry. The ledger is a value with one owner: the stage
/// that records prompts also scans egress against it.
public struct PromptLedger: Sendable {
    /// Limits of a ledger.
    public struct Configuration: Sendable, Equatable {
        /// How long after its last sighting a prompt is kept, in nanoseconds.
        public var retention: Int64
        /// The most memory the ledger may hold, by its own estimate, in bytes.
        public var memoryBudget: Int
        /// Words fingerprinted per prompt; the rest are counted in `skippedWords`. At most 16,777,215.
        public var maximumWordsPerPrompt: Int
        /// Postings kept per fingerprint; a shingle shared by more prompts than this stops being indexed for them.
        public var maximumPostingsPerFingerprint: Int

        public init(
            retention: Int64 = 24 * 3600 * 1_000_000_000, memoryBudget: Int = 64 * 1024 * 1024,
            maximumWordsPerPrompt: Int = 1_000_000, maximumPostingsPerFingerprint: Int = 64
        ) {
            self.retention = retention
            self.memoryBudget = memoryBudget
            self.maximumWordsPerPrompt = min(max(1, maximumWordsPerPrompt), Int(PromptLedger.positionMask))
            self.maximumPostingsPerFingerprint = max(1, maximumPostingsPerFingerprint)
        }
    }

    /// What the ledger knows about one prompt.
    public struct Entry: Sendable, Equatable {
        /// The prompt.
        public var id: PromptID
        /// When the text was first recorded, in nanoseconds.
        public var firstSeen: Int64
        /// When the text was last recorded, in nanoseconds.
        public var lastSeen: Int64
        /// The process that sent it, at the last sighting.
        public var requester: ProcessRef
        /// The runtime that received it, at the last sighting.
        public var runtime: ProcessRef
        /// The endpoint it was sent to, at the last sighting.
        public var endpoint: RuntimeEndpoint
        /// Words fingerprinted.
        public var words: Int
        /// How many times the same text was recorded.
        public var timesSeen: Int
        /// The ledger's estimate of the memory this prompt holds.
        public var approximateBytes: Int
    }

    /// What the ledger has recorded and let go.
    public struct Counters: Sendable, Equatable {
        /// Distinct prompts recorded.
        public var recorded = 0
        /// Recordings of a text already held.
        public var repeats = 0
        /// Texts with fewer words than a shingle, not recorded.
        public var tooShort = 0
        /// Words past `maximumWordsPerPrompt`, not fingerprinted.
        public var skippedWords = 0
        /// Prompts evicted to stay within the memory budget.
        public var dropped = 0
        /// Prompts removed by age.
        public var expired = 0
        /// Postings not indexed because a fingerprint already had `maximumPostingsPerFingerprint`.
        public var postingsNotIndexed = 0
    }

    /// A held prompt: what is reported about it, its shingles, and the digest it is deduplicated by.
    struct Stored: Sendable {
        var entry: Entry
        var shingles: [UInt64]
        var digest: UInt64
    }

    static let positionBits: UInt64 = 24
    static let positionMask: UInt64 = (1 << positionBits) - 1

    // Estimated from the layouts: a Stored value with its dictionary slots (~190 bytes), an index slot
    // (key and value, 16 bytes, at Swift's maximum load factor of 3/4), an order entry (16 bytes).
    private static let bytesPerPrompt = 256
    private static let bytesPerIndexedFingerprint = 24
    private static let bytesPerOverflowArray = 48

    /// The keyed hashes this ledger and its egress matchers use.
    public let fingerprinter: Fingerprinter
    /// Its limits.
    public let configuration: Configuration
    /// What it has recorded and let go.
    public private(set) var counters = Counters()
    /// Its estimate of the memory it holds, in bytes.
    public private(set) var approximateBytes = 0

    private var prompts: [UInt64: Stored] = [:]
    private var byDigest: [UInt64: UInt64] = [:]
    private var index: [UInt64: UInt64] = [:]
    private var overflow: [UInt64: [UInt64]] = [:]
    private var order: [(serial: UInt64, time: Int64)] = []
    private var orderHead = 0
    private var staleOrderEntries = 0
    private var nextSerial: UInt64 = 1

    /// An empty ledger.
    public init(fingerprinter: Fingerprinter, configuration: Configuration = Configuration()) {
        self.fingerprinter = fingerprinter
        self.configuration = configuration
    }

    /// Prompts held.
    public var count: Int { prompts.count }

    /// What the ledger knows about a prompt, if it still holds it.
    public func entry(_ id: PromptID) -> Entry? { prompts[id.rawValue]?.entry }

    /// Records each text as its own prompt and returns the ids of those long enough to fingerprint
    /// (a repeated text returns its existing id).
    @discardableResult
    public mutating func record(
        texts: [String], at time: Int64, requester: ProcessRef, runtime: ProcessRef, endpoint: RuntimeEndpoint
    ) -> [PromptID] {
        texts.compactMap { record(text: $0, at: time, requester: requester, runtime: runtime, endpoint: endpoint) }
    }

    /// Records one text; nil if it has fewer words than a shingle (or was evicted at once for being
    /// over the whole budget).
    @discardableResult
    public mutating func record(
        text: String, at time: Int64, requester: ProcessRef, runtime: ProcessRef, endpoint: RuntimeEndpoint
    ) -> PromptID? {
        var scanner = WordScanner()
        var sink = WordSink(fingerprinter: fingerprinter, limit: configuration.maximumWordsPerPrompt)
        var copy = text
        copy.withUTF8 { scanner.feed($0, sink: &sink) }
        scanner.finish(sink: &sink)
        counters.skippedWords += sink.skipped
        let words = sink.hashes
        guard words.count >= fingerprinter.shingleWords else {
            counters.tooShort += 1
            return nil
        }
        var hasher = fingerprinter.hasher()
        for w in words { hasher.append(word: w) }
        let digest = hasher.finalize()

        if let serial = byDigest[digest], var stored = prompts[serial] {
            stored.entry.lastSeen = max(stored.entry.lastSeen, time)
            stored.entry.requester = requester
            stored.entry.runtime = runtime
            stored.entry.endpoint = endpoint
            stored.entry.timesSeen += 1
            prompts[serial] = stored
            counters.repeats += 1
            order.append((serial, stored.entry.lastSeen))
            staleOrderEntries += 1
            compactOrderIfNeeded()
            return stored.entry.id
        }

        let serial = nextSerial
        nextSerial += 1
        let shingles = fingerprinter.shingles(of: words)
        var bytes = Self.bytesPerPrompt + shingles.count * 8 + Self.heapBytes(requester.program) + Self.heapBytes(runtime.program)
        for (hash, position) in fingerprinter.winnow(shingles) {
            bytes += addPosting(hash, Self.posting(serial, position))
        }
        let id = PromptID(rawValue: serial)
        let entry = Entry(
            id: id, firstSeen: time, lastSeen: time, requester: requester, runtime: runtime, endpoint: endpoint,
            words: words.count, timesSeen: 1, approximateBytes: bytes)
        prompts[serial] = Stored(entry: entry, shingles: shingles, digest: digest)
        byDigest[digest] = serial
        order.append((serial, time))
        approximateBytes += bytes
        counters.recorded += 1
        while approximateBytes > configuration.memoryBudget, evictOldest() {
            counters.dropped += 1
        }
        return prompts[serial] == nil ? nil : id
    }

    /// Removes the prompts last seen longer than `retention` before `now`.
    public mutating func expire(now: Int64) {
        let cutoff = now &- configuration.retention
        while orderHead < order.count {
            let (serial, time) = order[orderHead]
            guard let stored = prompts[serial], stored.entry.lastSeen == time else {
                orderHead += 1
                staleOrderEntries = max(0, staleOrderEntries - 1)
                continue
            }
            guard time < cutoff else { break }
            orderHead += 1
            remove(serial)
            counters.expired += 1
        }
        compactOrderIfNeeded()
    }

    // MARK: Matching support

    /// Whether a shingle hash is an indexed fingerprint: the one question asked of every egress shingle.
    @inline(__always)
    func isIndexed(_ shingle: UInt64) -> Bool { index[shingle] != nil }

    /// Calls `body` with each (prompt serial, shingle position) indexed under a fingerprint.
    @inline(__always)
    func forEachPosting(_ fingerprint: UInt64, _ body: (UInt64, Int) -> Void) {
        guard let first = index[fingerprint] else { return }
        body(first >> Self.positionBits, Int(first & Self.positionMask))
        if let more = overflow[fingerprint] {
            for p in more { body(p >> Self.positionBits, Int(p & Self.positionMask)) }
        }
    }

    /// A held prompt's full shingle sequence.
    func shingles(ofSerial serial: UInt64) -> [UInt64]? { prompts[serial]?.shingles }

    // MARK: Storage

    /// A prompt serial and a shingle position packed into one index value.
    private static func posting(_ serial: UInt64, _ position: Int) -> UInt64 {
        serial << positionBits | (UInt64(position) & positionMask)
    }

    /// The heap a String holds beyond its inline form (15 UTF-8 bytes fit inline).
    private static func heapBytes(_ s: String) -> Int { s.utf8.count > 15 ? s.utf8.count + 32 : 0 }

    /// Adds a posting and returns the bytes it added by estimate.
    private mutating func addPosting(_ hash: UInt64, _ posting: UInt64) -> Int {
        guard index[hash] != nil else {
            index[hash] = posting
            return Self.bytesPerIndexedFingerprint
        }
        let extra = overflow[hash]?.count ?? 0
        guard extra + 1 < configuration.maximumPostingsPerFingerprint else {
            counters.postingsNotIndexed += 1
            return 0
        }
        overflow[hash, default: []].append(posting)
        return extra == 0 ? Self.bytesPerOverflowArray + 8 : 8
    }

    private mutating func removePosting(_ hash: UInt64, _ posting: UInt64) {
        if index[hash] == posting {
            if var more = overflow[hash], let last = more.popLast() {
                index[hash] = last
                overflow[hash] = more.isEmpty ? nil : more
            } else {
                index[hash] = nil
            }
        } else if var more = overflow[hash], let at = more.firstIndex(of: posting) {
            more.remove(at: at)
            overflow[hash] = more.isEmpty ? nil : more
        }
    }

    /// Evicts the least recently seen prompt; false if none is held.
    private mutating func evictOldest() -> Bool {
        while orderHead < order.count {
            let (serial, time) = order[orderHead]
            orderHead += 1
            guard let stored = prompts[serial], stored.entry.lastSeen == time else {
                staleOrderEntries = max(0, staleOrderEntries - 1)
                continue
            }
            remove(serial)
            compactOrderIfNeeded()
            return true
        }
        return false
    }

    /// Removes a prompt and its postings.
    private mutating func remove(_ serial: UInt64) {
        guard let stored = prompts.removeValue(forKey: serial) else { return }
        for (hash, position) in fingerprinter.winnow(stored.shingles) {
            removePosting(hash, Self.posting(serial, position))
        }
        if byDigest[stored.digest] == serial { byDigest[stored.digest] = nil }
        approximateBytes -= stored.entry.approximateBytes
    }

    /// Drops consumed and stale order entries once they outnumber the live ones.
    private mutating func compactOrderIfNeeded() {
        guard orderHead + staleOrderEntries > 64, orderHead + staleOrderEntries > order.count / 2 else { return }
        let prompts = self.prompts
        order = order[orderHead...].filter { prompts[$0.serial]?.entry.lastSeen == $0.time }
        orderHead = 0
        staleOrderEntries = 0
    }
}
