/// The answer to "which process owns the local socket of this flow?": a process, or an honest reason why not.
public enum Attribution: Sendable, Equatable {
    case process(ProcessIdentity)
    case unattributed(UnattributedReason)

    /// The identity, when there is one.
    public var identity: ProcessIdentity? {
        if case .process(let identity) = self { return identity }
        return nil
    }

    /// The reason, when there is no identity.
    public var reason: UnattributedReason? {
        if case .unattributed(let reason) = self { return reason }
        return nil
    }
}

/// Why a flow has no process; the raw values are what the JSON contract stores in `unattributed_reason`.
public enum UnattributedReason: String, Sendable, Hashable, CaseIterable {
    /// The socket's owner is gone: it exited (or closed the socket) before the lookup could see it.
    case processExited = "process-exited"
    /// No socket on this machine matches the flow.
    case noSocket = "no-socket"
    /// The frame did not come from an IP socket (ARP, packet sockets, forwarded traffic).
    case rawFrame = "raw-frame"
    /// The kernel itself answered: a reset for a closed port, an ICMP error, an echo reply.
    case kernel
    /// The socket lives in another network namespace (a container, a test host).
    case otherNetns = "other-netns"
    /// Several processes own matching sockets (raw sockets see every packet): naming one would be a guess.
    case ambiguous
}
