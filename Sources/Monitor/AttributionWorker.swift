import Dispatch
import Foundation
public import Flows
public import Logging
public import PacketParsing
import Posix
public import ProcessAttribution
import Synchronization
public import Names

/// What attribution found for a flow, on its way to the flow's record on the capture thread.
public struct FlowOwner: Sendable {
    public var key: FlowKey
    public var uid: UInt64
    public var answer: OwnerAnswer
    /// The owner is a DNS resolver: the names it looks up are other programs'.
    public var isResolver: Bool

    /// Process names (comm) of the usual local DNS resolvers and caches.
    static let resolverNames: Set<String> = ["systemd-resolve", "dnsmasq", "unbound", "named", "pdns_recursor", "knot-resolver", "kresd", "stubby", "dnscrypt-proxy", "coredns"]
}

extension FlowOwner {
    init(of record: FlowRecord, answer: AttributionWorker.Answer) {
        self.init(
            key: record.key, uid: record.uid, answer: answer,
            isResolver: answer.identity.map { FlowOwner.resolverNames.contains($0.comm) } ?? false)
    }
}

/// A flow's attribution as rows need it: the process (or why none), which source named it, and the
/// process at the other end when that end is local too (loopback, another network namespace).
public struct FlowAttribution: Sendable {
    public var attribution: Attribution
    public var source: AttributionSource?
    public var peer: ProcessIdentity?
}

/// Attributes flows to processes as soon as they start, on its own thread.
///
/// The primary source is the kernel's socket events (`KernelSocketEvents`): loaded before capture
/// starts, they name a socket's process from the socket's first use, even when the process lived a
/// millisecond. A flow whose event has not arrived yet waits up to `eventWait` for it; after that,
/// and for everything when the events cannot be loaded, the socket tables and /proc are polled.
///
/// The capture thread calls `flowsStarted` (cheap: a bounded hand-off), and takes the answers from
/// `owners` into the flows' records (`applied`); whoever turns flows into rows calls
/// `attribution(of:ended:)`, which answers from the record, from the answers that reached no record
/// yet, or, for a flow the worker has not reached, asks the attributor itself.
public final class AttributionWorker: Sendable {
    public let attributor: Attributor
    /// Each flow's answer, for the capture thread to keep in the flow's record (naming credits DNS
    /// answers to the asking process from there).
    public let owners = HandOff<FlowOwner>(capacity: 100_000)
    private let local: Mutex<LocalNetwork>
    private let requests = HandOff<FlowRecord>(capacity: 100_000)
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let results = Mutex(Results())
    private let finished = DispatchSemaphore(value: 0)
    /// Whether polling may run: the process table's first scan is done.
    private let pollingReady = Atomic<Bool>(false)
    /// Why the kernel's socket events are not in use (nil while they are, or before start).
    private let eventsUnavailable = Mutex<String?>(nil)
    /// How long a new flow waits for its socket event before polling decides.
    public let eventWait: Int64
    /// Whether to load the kernel's socket events at all.
    private let useKernelEvents: Bool

    /// A stored answer, shared: by every flow of one process found by one source, or by every flow
    /// left unattributed for one reason. The flow's record holds a reference to it (8 bytes); the
    /// results hold it only until it reaches the record (100,000 open flows held 5 MB of answers by
    /// uid when the results kept every open flow's).
    final class Answer: OwnerAnswer, @unchecked Sendable {
        let attribution: Attribution
        let source: AttributionSource?
        init(_ attribution: Attribution, source: AttributionSource?) {
            self.attribution = attribution
            self.source = source
            super.init(process: attribution.identity.map { ProcessKey(pid: $0.pid, startTime: $0.startTime) })
        }
        var identity: ProcessIdentity? { attribution.identity }

        /// One answer per reason a flow goes unattributed, shared by all such flows.
        static let unattributed: [UnattributedReason: Answer] = Dictionary(
            uniqueKeysWithValues: UnattributedReason.allCases.map { ($0, Answer(.unattributed($0), source: nil)) })
    }

    struct Results {
        var byUID: [UInt64: Answer] = [:]
        var order: [UInt64] = []
        var head = 0
        /// The answers of recent processes, so flows of one process share one.
        var boxes: [BoxKey: Answer] = [:]
        static let capacity = 500_000

        struct BoxKey: Hashable {
            var process: ProcessKey
            var source: AttributionSource
        }

        @discardableResult
        mutating func insert(_ uid: UInt64, _ value: Attribution, source: AttributionSource?) -> Answer {
            let answer: Answer
            switch value {
            case .process(let identity):
                let key = BoxKey(process: ProcessKey(pid: identity.pid, startTime: identity.startTime), source: source ?? .polling)
                if let box = boxes[key], box.identity?.exe == identity.exe {
                    answer = box
                } else {
                    if boxes.count >= 20_000 { boxes.removeAll(keepingCapacity: true) }
                    let box = Answer(value, source: source ?? .polling)
                    boxes[key] = box
                    answer = box
                }
            case .unattributed(let reason):
                answer = Answer.unattributed[reason] ?? Answer(value, source: nil)
            }
            if byUID.updateValue(answer, forKey: uid) == nil { order.append(uid) }
            if byUID.count > Results.capacity {
                // Oldest first: a flow that never ended in time falls back to a direct lookup.
                while byUID.count > Results.capacity * 9 / 10, head < order.count {
                    byUID.removeValue(forKey: order[head])
                    head += 1
                }
                order.removeFirst(head)
                head = 0
            } else if order.count > 2 * byUID.count + 4096 {
                // A flow's answer leaves with the flow, its uid stays here: without this the list grew
                // by 8 bytes for every flow the daemon ever saw.
                order.removeAll { byUID[$0] == nil }
            }
            return answer
        }

        /// Answers that reached their flows' records, and when, oldest first from `handedHead`.
        var handedOver: [(uid: UInt64, answer: OwnerAnswer, at: Int64)] = []
        var handedHead = 0
        /// How long an answer stays here after reaching its record: the flow's copy judged at its
        /// start left the capture thread before the answer came, and is answered from here.
        static let handOverGrace: Int64 = 2_000_000_000

        /// Notes answers that reached their records at `now`, and forgets those that did so more than
        /// `handOverGrace` ago.
        mutating func handedOver(_ owners: [FlowOwner], now: Int64) {
            for owner in owners { handedOver.append((owner.uid, owner.answer, now)) }
            while handedHead < handedOver.count, handedOver[handedHead].at <= now - Results.handOverGrace {
                forget(handedOver[handedHead].uid, ifStill: handedOver[handedHead].answer)
                handedHead += 1
            }
            if handedHead == handedOver.count {
                handedOver.removeAll(keepingCapacity: handedOver.count <= 4096)
                handedHead = 0
            } else if handedHead > 4096, handedHead * 2 > handedOver.count {
                handedOver.removeFirst(handedHead)
                handedHead = 0
            }
        }

        /// Forgets an answer that reached its flow's record (unless a newer one came meanwhile).
        mutating func forget(_ uid: UInt64, ifStill answer: OwnerAnswer) {
            if let kept = byUID[uid], kept === answer { byUID.removeValue(forKey: uid) }
        }

        /// The answer for a flow; an ended flow's is forgotten.
        mutating func take(_ uid: UInt64, ended: Bool) -> Answer? {
            ended ? byUID.removeValue(forKey: uid) : byUID[uid]
        }
    }

    /// A flow waiting for its socket event.
    private struct Waiting {
        var record: FlowRecord
        var deadline: Int64
    }

    /// Whether the capture runs in another network namespace than this process (`run --isolate`):
    /// then even loopback sockets live elsewhere.
    private let capturesAnotherNamespace: Bool

    /// - Parameters:
    ///   - kernelEvents: load the kernel's socket events (false: polling only).
    ///   - eventWait: how long a new flow waits for its socket event before polling decides.
    public init(
        attributor: Attributor, local: LocalNetwork, capturesAnotherNamespace: Bool = false, kernelEvents: Bool = true,
        eventWait: Int64 = 300_000_000
    ) {
        self.attributor = attributor
        self.local = Mutex(local)
        self.capturesAnotherNamespace = capturesAnotherNamespace
        useKernelEvents = kernelEvents
        self.eventWait = eventWait
    }

    /// Loads the kernel's socket events (when asked to) and subscribes to process events, then starts
    /// the worker thread, and the /proc scan polling needs beside it. Returns once the socket events
    /// are live; without them, and with `waitForPolling`, only once the /proc scan is done. Flows that
    /// start meanwhile are answered from the events at once, or wait for the scan.
    public func start(logger: Logger, waitForPolling: Bool = true) {
        if useKernelEvents {
            do {
                try attributor.startKernelEvents()
                logger.info("attribution: kernel socket events live")
            } catch {
                eventsUnavailable.withLock { $0 = error.reason }
                logger.warning("attribution: kernel socket events unavailable, polling socket tables instead: \(error.reason)")
            }
        } else {
            eventsUnavailable.withLock { $0 = "not requested" }
        }
        let debugLogger: Logger? = logger.logLevel <= .debug ? logger : nil
        let ready = DispatchSemaphore(value: 0)
        // Process events now, so that every process started from here on is in the table.
        attributor.startProcessEvents()
        let seeding = Thread { [self] in
            attributor.seed()
            pollingReady.store(true, ordering: .releasing)
            ready.signal()
            wake.signal()
        }
        seeding.name = "telltale-process-scan"
        seeding.start()
        let thread = Thread { [self] in
            var waiting: [Waiting] = []
            while !stopping.load(ordering: .acquiring) {
                _ = wake.wait(timeout: .now() + .milliseconds(waiting.isEmpty ? 500 : 5))
                // Newest first: under a backlog, the sockets of the latest flows are the likeliest to
                // still exist.
                let fresh = requests.take()
                if fresh.isEmpty && waiting.isEmpty { continue }
                attributor.socketEvents?.drain()
                let now = SystemClock.wallNanoseconds()
                var still: [Waiting] = []
                var answered: [FlowOwner] = []
                for item in waiting + fresh.reversed().map({ Waiting(record: $0, deadline: max($0.start, now) + eventWait) }) {
                    let picked = SystemClock.wallNanoseconds()
                    guard let (answer, source) = attributeNow(item.record, final: now >= item.deadline) else {
                        still.append(item)
                        continue
                    }
                    if let debugLogger {
                        debugLogger.debug("attributed", metadata: [
                            "waited_us": "\((picked - item.record.start) / 1000)", "took_us": "\((SystemClock.wallNanoseconds() - picked) / 1000)",
                            "answer": "\(answer.identity.map { "\($0.comm)[\($0.pid)]" } ?? answer.reason?.rawValue ?? "?")",
                            "source": "\(source?.rawValue ?? "-")",
                        ])
                    }
                    let stored = results.withLock { $0.insert(item.record.uid, answer, source: source) }
                    answered.append(FlowOwner(of: item.record, answer: stored))
                }
                // Past the hand-off's capacity an answer stays in the results only: the row finds it there.
                owners.push(answered)
                // Bounded: past the cap the oldest are decided by polling now.
                if still.count > 50_000 {
                    for item in still.prefix(still.count - 50_000) {
                        if let (answer, source) = attributeNow(item.record, final: true, force: true) {
                            results.withLock { $0.insert(item.record.uid, answer, source: source) }
                        }
                    }
                    still.removeFirst(still.count - 50_000)
                }
                waiting = still
            }
            finished.signal()
        }
        thread.name = "telltale-attribution"
        thread.start()
        // With the socket events live, capture need not wait for the scan: flows are attributed from
        // the events, and the few that need polling wait for it.
        if waitForPolling && !usesKernelEvents { ready.wait() }
    }

    /// Whether the kernel's socket events are in use.
    public var usesKernelEvents: Bool { attributor.socketEvents != nil }

    /// Why the kernel's socket events are not in use, when they are not.
    public var kernelEventsUnavailableReason: String? { eventsUnavailable.withLock { $0 } }

    /// Socket events the kernel dropped because the ring was full.
    public var eventsDropped: Int64 { attributor.socketEvents?.dropped ?? 0 }

    /// Stops the worker thread and the attributor's event listener.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
        _ = finished.wait(timeout: .now() + .seconds(5))
        attributor.stop()
    }

    /// Updates the addresses that count as this machine's.
    public func updateLocalNetwork(_ network: LocalNetwork) {
        local.withLock { $0 = network }
    }

    /// The answers the capture thread put in their flows' records: after a grace period the results
    /// need not keep them. Called after every look at `owners`, with nothing as well.
    public func applied(_ owners: [FlowOwner]) {
        let now = SystemClock.wallNanoseconds()
        results.withLock { results in
            guard !owners.isEmpty || results.handedHead < results.handedOver.count else { return }
            results.handedOver(owners, now: now)
        }
    }

    /// Hands new flows to the worker; never blocks. Returns how many were dropped (queue full).
    @discardableResult
    public func flowsStarted(_ records: [FlowRecord]) -> Int {
        guard !records.isEmpty else { return 0 }
        let dropped = requests.push(records)
        wake.signal()
        return dropped
    }

    /// Flows the hand-off had to drop since the start.
    public var dropped: Int64 { requests.dropped }

    /// The attribution of a flow: the worker's answer (one that has not reached the record yet, or a
    /// later one, first), or a lookup now when the worker has none (an unattributed answer is checked
    /// against the socket events once more: the event may have come late). `ended` flows are
    /// forgotten afterwards.
    public func attribution(of record: FlowRecord, ended: Bool) -> FlowAttribution {
        let known = results.withLock { $0.take(record.uid, ended: ended) } ?? (record.owner as? Answer)
        let answer: (Attribution, AttributionSource?)
        if let known, let source = known.source {
            answer = (known.attribution, source)
        } else if let known {
            // Unattributed so far: the socket's event may have been read since.
            attributor.socketEvents?.drain()
            let late = attributor.attributeFromEvents(query(for: record), at: record.start, horizon: eventWait + 1_000_000_000)
            if let late, late.identity != nil {
                answer = (late, .kernelEvents)
            } else {
                answer = (known.attribution, nil)
            }
            if !ended, answer.1 != nil { keep(answer, of: record) }
        } else {
            attributor.socketEvents?.drain()
            // Polling waits for the /proc scan; with the socket events live, a flow the events do not
            // name yet is left to the worker rather than held up here.
            let mayPoll = !usesKernelEvents || pollingReady.load(ordering: .acquiring)
            if let found = attributeNow(record, final: true, force: mayPoll) {
                answer = found
                if !ended { keep(answer, of: record) }
            } else {
                answer = (.unattributed(.noSocket), nil)
            }
        }
        return FlowAttribution(attribution: answer.0, source: answer.1, peer: peer(of: record))
    }

    /// Keeps an answer found here for an open flow, and sends it to the flow's record as the worker's are.
    private func keep(_ answer: (Attribution, AttributionSource?), of record: FlowRecord) {
        let stored = results.withLock { $0.insert(record.uid, answer.0, source: answer.1) }
        owners.push([FlowOwner(of: record, answer: stored)])
    }

    /// The process at the flow's other end, when the socket events name one (a loopback flow's
    /// server, a process in another network namespace).
    public func peer(of record: FlowRecord) -> ProcessIdentity? {
        guard attributor.socketEvents != nil else { return nil }
        guard !record.isICMP else { return nil }
        var swapped = query(for: record).reversed
        swapped.localAddressIsOwn = isOwn(swapped.localAddress, in: local.withLock { $0 })
        return attributor.attributeFromEvents(swapped, at: record.start)?.identity
    }

    /// The socket query for a flow, facing this machine.
    public func query(for record: FlowRecord) -> SocketQuery {
        let network = local.withLock { $0 }
        var query = AttributionWorker.query(for: record, orientation: record.orientation(in: network))
        query.localAddressIsOwn = isOwn(query.localAddress, in: network)
        return query
    }

    /// Whether an address is one of the capture's own namespace (or loopback): a socket holding it
    /// cannot be in another network namespace.
    private func isOwn(_ address: IPAddress, in network: LocalNetwork) -> Bool {
        let address = address.unmappedV4 ?? address
        return !capturesAnotherNamespace && (address.scope == .loopback || network.addresses.contains(address))
    }

    static func query(for r: FlowRecord, orientation o: FlowOrientation) -> SocketQuery {
        let localAddress = o.originatorIsLocal ? r.originatorAddress : r.responderAddress
        let remoteAddress = o.originatorIsLocal ? r.responderAddress : r.originatorAddress
        var localPort = o.originatorIsLocal ? r.originatorPort : r.responderPort
        var remotePort = o.originatorIsLocal ? r.responderPort : r.originatorPort
        var hint: SocketQuery.Hint = o.originatorIsLocal ? .none : .initiatedRemotely
        if r.isICMP {
            // A ping socket's "port" is the echo identifier.
            localPort = r.key.lowPort
            remotePort = 0
            let v6 = r.ipProtocol == IPProtocolNumber.icmpv6
            // Errors, and IPv6's neighbour discovery and multicast listener messages: the kernel sends them.
            let kernelTypes: Set<UInt8> = v6 ? [1, 2, 3, 4, 130, 131, 132, 133, 134, 135, 136, 137, 143] : [3, 4, 5, 11, 12]
            if kernelTypes.contains(r.icmpType) { hint = .icmpError }
        }
        if r.ipProtocol == IPProtocolNumber.tcp {
            let localSide = o.originatorIsLocal ? r.originatorTCP : r.responderTCP
            let localPackets = o.originatorIsLocal ? r.originatorPackets : r.responderPackets
            if localSide.reset && !localSide.syn && !localSide.synAck && localPackets <= 1 { hint = .tcpResetFromLocal }
        }
        var query = SocketQuery(
            ipProtocol: r.ipProtocol, localAddress: localAddress, localPort: localPort, remoteAddress: remoteAddress,
            remotePort: remotePort, hint: hint)
        query.opensConnection = r.ipProtocol == IPProtocolNumber.tcp && o.originatorIsLocal && r.originatorTCP.syn
        return query
    }

    /// The flow's attribution now: from the socket events, else (when `final`, or when events are
    /// not in use, or for what only the kernel sends) from polling. nil: wait for an event.
    /// `force` polls even before the first /proc scan is done.
    private func attributeNow(_ record: FlowRecord, final: Bool, force: Bool = false) -> (Attribution, AttributionSource?)? {
        let query = query(for: record)
        if query.hint == .rawFrame && attributor.socketEvents == nil { return (.unattributed(.rawFrame), nil) }
        if attributor.socketEvents != nil {
            // Raw IP sockets (ping without ping sockets, custom protocols) report every send: matched by time.
            let portless = query.ipProtocol != IPProtocolNumber.tcp && query.ipProtocol != IPProtocolNumber.udp
                && query.ipProtocol != IPProtocolNumber.udpLite && query.hint != .initiatedRemotely
            if let found = attributor.attributeFromEvents(
                query, at: record.start, horizon: eventWait + 1_000_000_000, firstPacketBytes: record.originatorBytes,
                senders: portless, settled: !final) {
                return (found, found.identity == nil ? nil : .kernelEvents)
            }
            let kernelOnly = query.hint == .icmpError || query.hint == .tcpResetFromLocal
                || (query.hint == .initiatedRemotely && record.isICMP)
            guard final || kernelOnly else { return nil }
        }
        guard force || pollingReady.load(ordering: .acquiring) else { return nil }
        let polled = attributor.attribute(query, at: record.start)
        if polled.identity != nil { return (polled, .polling) }
        // Nothing owns a socket for it: a raw IP or packet socket may have written it.
        if let sender = attributor.attributeFromEvents(
            query, at: record.start, firstPacketBytes: record.originatorBytes, senders: true) {
            return (sender, sender.identity == nil ? nil : .kernelEvents)
        }
        return (polled, nil)
    }
}
