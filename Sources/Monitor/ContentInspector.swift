public import Content
import Foundation
public import Flows
import NameParsing
public import PacketParsing
import Posix
public import ProcessAttribution
import Synchronization

/// Content evidence for the live pipeline: prompts seen on their way to a model runtime over
/// loopback become fingerprints (never text), and what programs send off this machine — wire
/// plaintext from capture, TLS plaintext from the probes on OpenSSL — is matched against them and
/// against the canaries.
///
/// Threads: the capture thread copies payloads into `tap`; everything else happens under one
/// mutex, by a reader thread every 50 ms, and by `drain()` from the consumer before it writes
/// flows, so a flow's content is complete when the flow is. Plaintext lives only in the tap's
/// buffers and the request reassembly (bounded), and never leaves this type: only match records do.
public final class ContentInspector: Sendable {
    /// What inspection found in one flow: a prompt's words or a canary.
    public struct Finding: Sendable, Equatable {
        public var key: FlowKey
        /// When it was found (nanoseconds since the epoch).
        public var time: Int64
        /// The longest run of the prompt's words (1 for a canary).
        public var matchedWords: Int
        /// `tls-plaintext` or `wire-plaintext`.
        public var visibility: String
        /// When the prompt was seen going to the runtime; nil for a canary.
        public var promptSeen: Int64?
        /// Who sent the prompt to the runtime, and which runtime it was.
        public var promptProcess: String?
        public var runtime: String?
        /// The canary's label, when a canary was found.
        public var canary: String?
        /// Which prompt (or canary) this is: one alert per flow and subject.
        public var subject: String
        /// The process whose egress carried it, as the capture knew it then (TLS: the writer).
        public var owner: ProcessKey?
        /// The prompt, to name its sender and runtime once attribution has (nil for a canary).
        var prompt: PromptID?
    }

    /// What inspection could see of one flow.
    public struct FlowContent: Sendable, Equatable {
        public var visibility: String
        public var promptMatches: Int
        /// Findings not handed out before.
        public var newFindings: [Finding]
    }

    /// A prompt fingerprinted, as the audit lists it: no text, only who, where and how long.
    public struct PromptSeen: Sendable, Equatable {
        public var time: Int64
        public var requester: String
        public var runtime: String
        public var endpoint: String
        public var words: Int
    }

    /// What inspection counted: for `status`, metrics and the audit.
    public struct Counters: Sendable, Equatable {
        public var promptsRecorded = 0
        public var requestsSeen = 0
        /// Requests whose body could not be read (compressed, not JSON, cut by a gap).
        public var requestsSkipped = 0
        /// Payload bytes dropped: the tap's budget, the per-flow state limit, TLS probe drops.
        public var droppedBytes: Int64 = 0
        public var tlsWrites = 0
        /// TLS plaintext beyond the probes' copy bound (not scanned).
        public var tlsSkippedBytes: Int64 = 0
        public var findings = 0
        public var ledgerBytes = 0
    }

    /// The first payload bytes of a flow direction, as far as visibility goes.
    enum Payload: Sendable { case none, plain, tls, quic }

    /// One direction of a flow.
    struct Direction: Sendable {
        var nextSequence: UInt32?
        var kind = Payload.none
        /// Loopback client → server: the request stream, when the direction starts with a request.
        var requests: HTTPRequestStream?
        var ignored = false
        /// Local → remote: the matcher over its plaintext.
        var egress: EgressStream?
    }

    struct FlowState: Sendable {
        var directions = [Direction(), Direction()]
        var tlsPlaintext = false
        var tlsEgress: EgressStream?
        var dropped = false
        var findings: [Finding] = []
        var handedOut = 0
        var subjects: [String: Int] = [:]
        var owner: ProcessKey?
        /// Prompts recorded from this flow (a loopback request stream), for `noteParties`.
        var prompts: [PromptID] = []
        var parties: (requester: String, runtime: String)?
    }

    struct State: Sendable {
        var ledger: PromptLedger
        var canaries: CanarySet
        var canaryTokens: [String: String] = [:]
        var flows: [FlowKey: FlowState] = [:]
        var local: LocalNetwork
        var counters = Counters()
        /// Names of the parties of each prompt, once the enricher told them.
        var promptParties: [PromptID: (requester: String, runtime: String)] = [:]
        /// Each process's latest TLS flow off this machine, for writes whose socket the probe did not see.
        var tlsFlowByPid: [Int32: FlowKey] = [:]
        /// The prompts fingerprinted, in the order first seen (their parties come from `promptParties`).
        var seen: [(id: PromptID, prompt: PromptSeen)] = []
    }

    /// The rule content alerts carry.
    public static let leakRule = "content/prompt-leak"

    public let tap: ContentTap
    public let settings: ContentSettings
    private let state: Mutex<State>
    private let describe: @Sendable (ProcessKey) -> String?
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    /// Flows whose state is kept at most; past it, new flows are not inspected (and say so).
    static let flowLimit = 100_000

    /// - Parameter describe: the program name of a process (attribution's identity), for match records.
    public init(settings: ContentSettings, local: LocalNetwork, describe: @escaping @Sendable (ProcessKey) -> String?) {
        var generator = SystemRandomNumberGenerator()
        let fingerprinter = Fingerprinter(randomKeyUsing: &generator)
        var configuration = PromptLedger.Configuration()
        configuration.retention = settings.retention
        configuration.memoryBudget = Int(clamping: settings.memoryBytes)
        state = Mutex(State(
            ledger: PromptLedger(fingerprinter: fingerprinter, configuration: configuration),
            canaries: CanarySet(fingerprinter: fingerprinter), local: local))
        self.settings = settings
        self.describe = describe
        tap = ContentTap()
    }

    /// Starts the reader thread (drains every 50 ms, expires old prompts every minute).
    public func start(canarySource: (@Sendable () -> [(token: String, label: String)])? = nil) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            var lastExpiry: Int64 = 0, lastCanaries: Int64 = 0
            while !stopping.load(ordering: .acquiring) {
                drain()
                let now = SystemClock.wallNanoseconds()
                if now - lastExpiry > 60_000_000_000 {
                    state.withLock { $0.ledger.expire(now: now) }
                    lastExpiry = now
                }
                if let canarySource, now - lastCanaries > 5_000_000_000 {
                    setCanaries(canarySource())
                    lastCanaries = now
                }
                usleep(50_000)
            }
            finished.signal()
        }
        thread.name = "telltale-content"
        thread.start()
    }

    /// Stops the reader thread (the consumer may still drain).
    public func stop() {
        guard started.load(ordering: .acquiring), !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    public func updateLocalNetwork(_ network: LocalNetwork) { state.withLock { $0.local = network } }

    /// Replaces the canaries (from the database).
    public func setCanaries(_ canaries: [(token: String, label: String)]) {
        state.withLock { s in
            let tokens = Dictionary(canaries.map { ($0.token, $0.label) }, uniquingKeysWith: { a, _ in a })
            guard tokens != s.canaryTokens else { return }
            var set = CanarySet(fingerprinter: s.ledger.fingerprinter)
            for (token, label) in tokens { _ = set.insert(token: token, label: label) }
            s.canaries = set
            s.canaryTokens = tokens
        }
    }

    public var counters: Counters {
        state.withLock { s in
            var c = s.counters
            c.droppedBytes += tap.droppedBytes
            c.ledgerBytes = s.ledger.approximateBytes
            return c
        }
    }

    /// The prompts fingerprinted so far (for the audit of a run), oldest first.
    public var promptsSeen: [PromptSeen] {
        state.withLock { s in
            s.seen.map { entry in
                var prompt = entry.prompt
                if let parties = s.promptParties[entry.id] {
                    prompt.requester = parties.requester
                    prompt.runtime = parties.runtime
                }
                return prompt
            }
        }
    }

    /// Inspects every payload copied so far.
    public func drain() {
        let (segments, droppedFlows) = tap.take()
        guard !segments.isEmpty || !droppedFlows.isEmpty else { return }
        state.withLock { s in
            for key in droppedFlows { s.flows[key, default: FlowState()].dropped = true }
            for segment in segments { inspect(segment, &s) }
        }
    }

    /// Inspects TLS writes the probes reported (chunks of what processes handed to OpenSSL).
    public func inspect(_ writes: [TLSWrite]) {
        guard !writes.isEmpty else { return }
        drain()
        state.withLock { s in
            for write in writes { inspect(write, &s) }
        }
    }

    /// The flow's content: its visibility, how many prompts (and canaries) it carried, and findings
    /// not handed out before; `ended` forgets the flow. Nil when inspection saw nothing of it and
    /// `ended` is false.
    public func content(of key: FlowKey, ended: Bool) -> FlowContent {
        state.withLock { s in
            guard var flow = s.flows[key] else {
                // No payload seen: a TCP or UDP flow that carried none hid nothing; other protocols'
                // payloads (an ICMP echo's data) are not read at all.
                let read = key.ipProtocol == IPProtocolNumber.tcp || key.ipProtocol == IPProtocolNumber.udp
                return FlowContent(visibility: read ? "wire-plaintext" : "not-inspected", promptMatches: 0, newFindings: [])
            }
            let visibility: String
            if flow.dropped { visibility = "not-inspected" }
            else if flow.tlsPlaintext { visibility = "tls-plaintext" }
            else if flow.directions.contains(where: { $0.kind == .tls || $0.kind == .quic }) { visibility = "opaque" }
            else { visibility = "wire-plaintext" }
            // The parties of a prompt are named when handed out: attribution may have named them since.
            let fresh = flow.findings[flow.handedOut...].map { finding in
                var finding = finding
                if let id = finding.prompt, let parties = s.promptParties[id] {
                    finding.promptProcess = parties.requester
                    finding.runtime = parties.runtime
                }
                return finding
            }
            flow.handedOut = flow.findings.count
            let matches = flow.subjects.count
            if ended {
                if let owner = flow.owner, s.tlsFlowByPid[owner.pid] == key { s.tlsFlowByPid[owner.pid] = nil }
                s.flows[key] = nil
            } else {
                s.flows[key] = flow
            }
            return FlowContent(visibility: visibility, promptMatches: matches, newFindings: fresh)
        }
    }

    /// Names the two ends of a loopback flow (the enricher knows them once attribution answered):
    /// prompts sent over it name their sender and runtime.
    public func noteParties(of key: FlowKey, requester: String, runtime: String) {
        state.withLock { s in
            guard var flow = s.flows[key] else { return }
            flow.parties = (requester, runtime)
            for id in flow.prompts { s.promptParties[id] = (requester, runtime) }
            s.flows[key] = flow
        }
    }

    // MARK: - Inspection (under the lock)

    private func inspect(_ segment: ContentTap.Segment, _ s: inout State) {
        if s.flows[segment.key] == nil && s.flows.count >= ContentInspector.flowLimit {
            s.counters.droppedBytes += Int64(segment.declaredLength)
            return
        }
        var flow = s.flows[segment.key] ?? FlowState()
        if segment.ipProtocol == IPProtocolNumber.tcp && segment.tcpFlags & 0x02 != 0 && flow.directions.contains(where: { $0.kind != .none }) {
            // A new connection on the same four-tuple: a new flow for inspection too.
            flow = FlowState()
        }
        if flow.owner == nil { flow.owner = segment.owner }
        let fromLow = segment.source < segment.destination
            || (segment.source == segment.destination && segment.sourcePort <= segment.destinationPort)
        let index = fromLow ? 0 : 1
        var direction = flow.directions[index]
        var bytes = segment.bytes[...]
        if segment.bytes.count < segment.declaredLength {
            // The capture kept only part of it: what is missing was not inspected.
            flow.dropped = true
        }
        if segment.ipProtocol == IPProtocolNumber.tcp, let sequence = segment.sequence {
            if let next = direction.nextSequence {
                let offset = Int32(bitPattern: sequence &- next)
                if offset < 0 {
                    // A retransmission: only what lies beyond what was read is new.
                    let already = Int(-offset)
                    guard already < bytes.count else { s.flows[segment.key] = flow; return }
                    bytes = bytes.dropFirst(already)
                } else if offset > 0 {
                    // A gap (a segment lost or out of order): the reassembly window is one segment.
                    direction.requests?.gap(Int(offset))
                    flow.dropped = true
                }
            }
            direction.nextSequence = sequence &+ UInt32(truncatingIfNeeded: segment.declaredLength)
        }
        if direction.kind == .none, let first = bytes.first {
            if segment.ipProtocol == IPProtocolNumber.tcp {
                direction.kind = first == 0x16 || first == 0x17 ? .tls : .plain
            } else {
                direction.kind = (first & 0x80 != 0 && (segment.destinationPort == 443 || segment.sourcePort == 443)) ? .quic : .plain
            }
        }
        let sourceIsLocal = s.local.isLocal(segment.source)
        let destinationIsLocal = s.local.isLocal(segment.destination)
        if segment.destination.scope == .loopback || (sourceIsLocal && destinationIsLocal) {
            if segment.ipProtocol == IPProtocolNumber.tcp { readRequests(&direction, &flow, bytes, segment, &s) }
        } else if sourceIsLocal && direction.kind == .plain {
            if direction.egress == nil { direction.egress = EgressStream(minimumWords: settings.minimumWords) }
            let plaintext: [UInt8]
            if segment.ipProtocol == IPProtocolNumber.udp && (segment.destinationPort == 53 || segment.destinationPort == 5353) {
                // A DNS query: its names, dots between labels (a prompt spelled out in labels is a leak too).
                let names = (try? DNSParser.parse(Array(bytes)))?.questions.map(\.name) ?? []
                plaintext = Array((names.joined(separator: " ") + " ").utf8)
            } else {
                plaintext = Array(bytes)
            }
            let matches = direction.egress?.scan(plaintext, ledger: s.ledger, canaries: s.canaries) ?? []
            record(matches, visibility: "wire-plaintext", owner: segment.owner, time: segment.time, in: &flow, key: segment.key, &s)
            if segment.ipProtocol == IPProtocolNumber.udp {
                // Each datagram stands alone: a run of words does not continue into the next one.
                let tail = direction.egress?.finish(ledger: s.ledger, canaries: s.canaries) ?? []
                record(tail, visibility: "wire-plaintext", owner: segment.owner, time: segment.time, in: &flow, key: segment.key, &s)
                direction.egress = nil
            }
        }
        if sourceIsLocal && !destinationIsLocal && direction.kind == .tls, let owner = segment.owner ?? flow.owner {
            s.tlsFlowByPid[owner.pid] = segment.key
        }
        flow.directions[index] = direction
        s.flows[segment.key] = flow
    }

    private func readRequests(_ direction: inout Direction, _ flow: inout FlowState, _ bytes: ArraySlice<UInt8>, _ segment: ContentTap.Segment, _ s: inout State) {
        guard !direction.ignored, !bytes.isEmpty else { return }
        if direction.requests == nil {
            // Only a direction that starts with an HTTP request is read (a response, TLS, anything else is not).
            guard let first = bytes.first, first >= 0x41, first <= 0x5a, bytes.prefix(8).contains(0x20) else {
                direction.ignored = true
                return
            }
            direction.requests = HTTPRequestStream()
        }
        guard let completed = direction.requests?.feed(bytes) else { return }
        for request in completed {
            guard let endpoint = RuntimeEndpoint(method: request.method, path: request.path) else { continue }
            s.counters.requestsSeen += 1
            let texts: [String]
            do {
                texts = try PromptText.texts(endpoint: endpoint, body: request.body, contentEncoding: request.contentEncoding)
            } catch {
                s.counters.requestsSkipped += 1
                continue
            }
            let requesterName = flow.parties?.requester ?? segment.owner.flatMap(describe) ?? "pid \(segment.owner?.pid ?? 0)"
            let runtimeName = flow.parties?.runtime ?? "port \(segment.destinationPort)"
            let requester = ProcessRef(pid: segment.owner?.pid ?? 0, startTime: segment.owner?.startTime ?? 0, program: requesterName)
            let runtime = ProcessRef(pid: 0, startTime: 0, program: runtimeName)
            let ids = s.ledger.record(texts: texts, at: segment.time, requester: requester, runtime: runtime, endpoint: endpoint)
            s.counters.promptsRecorded = s.ledger.counters.recorded
            for id in ids {
                flow.prompts.append(id)
                if let parties = flow.parties { s.promptParties[id] = parties }
                if let entry = s.ledger.entry(id), entry.timesSeen == 1, s.seen.count < 10_000 {
                    s.seen.append((id, PromptSeen(
                        time: segment.time, requester: requesterName, runtime: runtimeName, endpoint: endpoint.rawValue,
                        words: entry.words)))
                }
            }
        }
    }

    private func inspect(_ write: TLSWrite, _ s: inout State) {
        // A write arrives in chunks: it is counted, and what the probe did not copy, once.
        if write.offset == 0 {
            s.counters.tlsWrites += 1
            s.counters.tlsSkippedBytes += Int64(clamping: write.uncopiedLength)
        }
        var key: FlowKey?
        if let socket = write.socket {
            // Writes to this machine (loopback TLS) are not egress.
            if s.local.isLocal(socket.remoteAddress) { return }
            var packet = PacketSummary()
            packet.source = socket.localAddress
            packet.destination = socket.remoteAddress
            packet.sourcePort = socket.localPort
            packet.destinationPort = socket.remotePort
            packet.ipProtocol = socket.ipProtocol
            key = FlowKey.of(packet).key
        }
        if key == nil { key = s.tlsFlowByPid[write.pid] }
        guard let key else { return }
        var flow = s.flows[key] ?? FlowState()
        flow.tlsPlaintext = true
        if flow.tlsEgress == nil { flow.tlsEgress = EgressStream(minimumWords: settings.minimumWords) }
        let matches = flow.tlsEgress?.scan(write.bytes, ledger: s.ledger, canaries: s.canaries) ?? []
        let owner = flow.owner ?? ProcessKey(pid: write.pid, startTime: 0)
        guard !write.unreadable else { s.flows[key] = flow; return }
        record(matches, visibility: "tls-plaintext", owner: owner, time: write.time, in: &flow, key: key, &s)
        s.flows[key] = flow
    }

    private func record(_ matches: [ContentMatch], visibility: String, owner: ProcessKey?, time: Int64, in flow: inout FlowState, key: FlowKey, _ s: inout State) {
        for match in matches {
            var finding = Finding(key: key, time: time, matchedWords: match.matchedWords, visibility: visibility, subject: "", owner: owner)
            switch match.subject {
            case .prompt(let id):
                guard let entry = s.ledger.entry(id) else { continue }
                finding.subject = id.description
                finding.prompt = id
                finding.promptSeen = entry.lastSeen
                let parties = s.promptParties[id]
                finding.promptProcess = parties?.requester ?? entry.requester.program
                finding.runtime = parties?.runtime ?? entry.runtime.program
            case .canary(let id):
                finding.subject = "canary-\(id.rawValue)"
                finding.canary = s.canaries.label(id) ?? "canary"
                finding.matchedWords = 0
            }
            if let earlier = flow.subjects[finding.subject] {
                // One alert per flow and prompt: a longer run later updates the finding while it has
                // not been handed out, and the count held.
                flow.subjects[finding.subject] = max(earlier, finding.matchedWords)
                if let i = flow.findings.lastIndex(where: { $0.subject == finding.subject }), i >= flow.handedOut {
                    flow.findings[i].matchedWords = max(flow.findings[i].matchedWords, finding.matchedWords)
                }
                continue
            }
            flow.subjects[finding.subject] = finding.matchedWords
            flow.findings.append(finding)
            s.counters.findings += 1
        }
    }
}
