import Dispatch
import Foundation
public import Flows
public import Logging
public import PacketParsing
public import ProcessAttribution
import Synchronization
public import Names

/// A flow's owner, as attribution found it.
public struct FlowOwner: Sendable {
    public var key: FlowKey
    public var process: ProcessKey
    /// The owner is a DNS resolver: the names it looks up are other programs'.
    public var isResolver: Bool

    /// Process names (comm) of the usual local DNS resolvers and caches.
    static let resolverNames: Set<String> = ["systemd-resolve", "dnsmasq", "unbound", "named", "pdns_recursor", "knot-resolver", "kresd", "stubby", "dnscrypt-proxy", "coredns"]
}

/// Attributes flows to processes as soon as they start, on its own thread, so that a short-lived
/// process is looked up while it still holds its socket.
///
/// The capture thread calls `flowsStarted` (cheap: a bounded hand-off); whoever turns ended flows
/// into rows calls `attribution(of:)`, which answers from the worker's results or, for a flow the
/// worker has not reached yet, asks the attributor itself.
public final class AttributionWorker: Sendable {
    public let attributor: Attributor
    /// Each flow attributed to a process, for the capture thread's naming (DNS answers per process).
    public let owners = HandOff<FlowOwner>(capacity: 100_000)
    private let local: Mutex<LocalNetwork>
    private let requests = HandOff<FlowRecord>(capacity: 100_000)
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let results = Mutex(Results())
    private let finished = DispatchSemaphore(value: 0)

    /// An identity shared by every flow of one process (the identity is large; a flow holds 8 bytes).
    final class IdentityBox: Sendable {
        let identity: ProcessIdentity
        init(_ identity: ProcessIdentity) { self.identity = identity }
    }

    /// A stored answer: small, so that 100,000 open flows cost little.
    enum Answer {
        case process(IdentityBox)
        case unattributed(UnattributedReason)

        var attribution: Attribution {
            switch self {
            case .process(let box): .process(box.identity)
            case .unattributed(let reason): .unattributed(reason)
            }
        }
    }

    struct Results {
        var byUID: [UInt64: Answer] = [:]
        var order: [UInt64] = []
        var head = 0
        /// The boxes of recent processes, so flows of one process share one.
        var boxes: [ProcessKey: IdentityBox] = [:]
        static let capacity = 500_000

        mutating func insert(_ uid: UInt64, _ value: Attribution) {
            let answer: Answer
            switch value {
            case .process(let identity):
                let key = ProcessKey(pid: identity.pid, startTime: identity.startTime)
                if let box = boxes[key] {
                    answer = .process(box)
                } else {
                    if boxes.count >= 20_000 { boxes.removeAll(keepingCapacity: true) }
                    let box = IdentityBox(identity)
                    boxes[key] = box
                    answer = .process(box)
                }
            case .unattributed(let reason):
                answer = .unattributed(reason)
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
            }
        }
    }

    /// Whether the capture runs in another network namespace than this process (`run --isolate`):
    /// then even loopback sockets live elsewhere.
    private let capturesAnotherNamespace: Bool

    public init(attributor: Attributor, local: LocalNetwork, capturesAnotherNamespace: Bool = false) {
        self.attributor = attributor
        self.local = Mutex(local)
        self.capturesAnotherNamespace = capturesAnotherNamespace
    }

    /// Starts the worker thread, which starts the attributor (process events, then one /proc scan)
    /// before its first lookup. With `wait`, returns once the attributor is ready; otherwise at once,
    /// and flows that start meanwhile queue up.
    public func start(logger: Logger, wait: Bool = true) {
        let debugLogger: Logger? = logger.logLevel <= .debug ? logger : nil
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do {
                try attributor.start()
            } catch {
                logger.warning("process attribution runs without netlink: \(error)")
            }
            ready.signal()
            while !stopping.load(ordering: .acquiring) {
                _ = wake.wait(timeout: .now() + .milliseconds(500))
                // Newest first: under a backlog, the sockets of the latest flows are the likeliest to
                // still exist.
                for record in requests.take().reversed() {
                    let picked = LiveSession.now()
                    let answer = attributeNow(record)
                    if let debugLogger {
                        debugLogger.debug("attributed", metadata: [
                            "waited_us": "\((picked - record.start) / 1000)", "took_us": "\((LiveSession.now() - picked) / 1000)",
                            "answer": "\(answer.identity.map { "\($0.comm)[\($0.pid)]" } ?? answer.reason?.rawValue ?? "?")",
                        ])
                    }
                    results.withLock { $0.insert(record.uid, answer) }
                    if let identity = answer.identity {
                        owners.push([FlowOwner(
                            key: record.key, process: ProcessKey(pid: identity.pid, startTime: identity.startTime),
                            isResolver: FlowOwner.resolverNames.contains(identity.comm))])
                    }
                }
            }
            finished.signal()
        }
        thread.name = "telltale-attribution"
        thread.start()
        if wait { ready.wait() }
    }

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

    /// The attribution of a flow: the worker's answer, or a lookup now when the worker has none.
    /// `ended` flows are forgotten afterwards.
    public func attribution(of record: FlowRecord, ended: Bool) -> Attribution {
        let known = results.withLock { r -> Attribution? in
            (ended ? r.byUID.removeValue(forKey: record.uid) : r.byUID[record.uid])?.attribution
        }
        if let known { return known }
        let answer = attributeNow(record)
        if !ended { results.withLock { $0.insert(record.uid, answer) } }
        return answer
    }

    /// The socket query for a flow, facing this machine.
    public func query(for record: FlowRecord) -> SocketQuery {
        let network = local.withLock { $0 }
        var query = AttributionWorker.query(for: record, orientation: record.orientation(in: network))
        let address = query.localAddress.unmappedV4 ?? query.localAddress
        query.localAddressIsOwn = !capturesAnotherNamespace && (address.scope == .loopback || network.addresses.contains(address))
        return query
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
        return SocketQuery(
            ipProtocol: r.ipProtocol, localAddress: localAddress, localPort: localPort, remoteAddress: remoteAddress,
            remotePort: remotePort, hint: hint)
    }

    private func attributeNow(_ record: FlowRecord) -> Attribution {
        attributor.attribute(query(for: record), at: record.start)
    }
}
