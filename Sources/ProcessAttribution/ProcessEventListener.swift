import Foundation
import Synchronization

/// Listens to the kernel's process events (netlink proc connector: fork, exec, exit) on a dedicated thread.
///
/// The thread blocks in `poll` with a short timeout so that `stop()` returns promptly; every event is
/// handed to `handler` on that thread, in kernel order.
final class ProcessEventListener: Sendable {
    private let socket: NetlinkSocketBox
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Events the kernel dropped because we read too slowly (ENOBUFS).
    let overruns = Atomic<Int>(0)

    /// Subscribes to the proc connector; throws when the kernel refuses (another network namespace,
    /// no CAP_NET_ADMIN, no connector).
    init() throws(NetlinkError) {
        let socket = try NetlinkSocket(netlinkProtocol: NetlinkSocket.protocolConnector, groups: NetlinkMessages.connectorProcIndex)
        try socket.send(NetlinkMessages.connectorSubscription(listen: true))
        // The kernel acknowledges a refused subscription (ECONNREFUSED outside the initial namespace) with an
        // error on the next read; check it now rather than on the thread.
        if let first = try? socket.receive(timeoutMilliseconds: 0) {
            for message in NetlinkMessages.split(first) where message.type == NetlinkMessages.typeError {
                let code = NetlinkMessages.errorCode(message.payload)
                if code != 0 { throw NetlinkError(operation: "proc connector subscribe", code: code) }
            }
        }
        self.socket = NetlinkSocketBox(socket)
    }

    /// Starts the thread; `handler` runs on it for every event and `failure` once if reading fails for good.
    func start(handler: @escaping @Sendable (NetlinkMessages.ProcessEvent) -> Void, failure: @escaping @Sendable (NetlinkError) -> Void) {
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            defer { finished.signal() }
            while !stopping.load(ordering: .acquiring) {
                do throws(NetlinkError) {
                    guard let datagram = try socket.value.receive(timeoutMilliseconds: 200) else { continue }
                    for message in NetlinkMessages.split(datagram) {
                        if message.type == NetlinkMessages.typeError {
                            let code = NetlinkMessages.errorCode(message.payload)
                            if code != 0 { failure(NetlinkError(operation: "proc connector", code: code)); return }
                            continue
                        }
                        if let event = NetlinkMessages.processEvent(message.payload), event != .other { handler(event) }
                    }
                } catch where error.code == ENOBUFS {
                    overruns.add(1, ordering: .relaxed)
                    handler(.other)  // lets the owner know events were lost
                } catch {
                    failure(error)
                    return
                }
            }
        }
        thread.name = "telltale-proc-events"
        thread.start()
    }

    /// Asks the thread to end and waits for it (at most about 200 ms).
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing), started.load(ordering: .acquiring) else { return }
        finished.wait()
    }
}

/// Carries the connector's socket into the listener thread.
///
/// `@unchecked Sendable` is safe because after `init` only the listener thread uses the socket; the
/// owner never touches it again.
final class NetlinkSocketBox: @unchecked Sendable {
    let value: NetlinkSocket
    init(_ value: NetlinkSocket) { self.value = value }
}
