public import PacketParsing

/// Which addresses are this machine's, to decide the local side of a flow.
public struct LocalNetwork: Sendable {
    public var addresses: Set<IPAddress>
    public var networks: [IPNetwork]

    public init(addresses: Set<IPAddress> = [], networks: [IPNetwork] = []) {
        self.addresses = addresses
        self.networks = networks
    }

    public func isLocal(_ address: IPAddress) -> Bool {
        let plain = address.unmappedV4 ?? address
        if addresses.contains(plain) || plain.scope == .loopback { return true }
        return networks.contains { $0.contains(plain) }
    }
}

/// Which way a flow went, as seen from this machine.
public enum FlowDirection: String, Sendable {
    /// Started here, to somewhere else.
    case outbound
    /// Started elsewhere, to here.
    case inbound
    /// Both ends are this machine.
    case local
}

/// A flow turned to face this machine: which end is local, and the direction.
public struct FlowOrientation: Sendable, Equatable {
    public var direction: FlowDirection
    /// True when the originator is the local end.
    public var originatorIsLocal: Bool
}

extension FlowRecord {
    /// Decides the local end: by this machine's addresses, then by the link layer's direction, then by
    /// scope (a private address facing an internet one), and last the originator.
    public func orientation(in local: LocalNetwork) -> FlowOrientation {
        let originatorLocal = local.isLocal(originatorAddress)
        let responderLocal = local.isLocal(responderAddress)
        switch (originatorLocal, responderLocal) {
        case (true, true): return FlowOrientation(direction: .local, originatorIsLocal: true)
        case (true, false): return FlowOrientation(direction: .outbound, originatorIsLocal: true)
        case (false, true): return FlowOrientation(direction: .inbound, originatorIsLocal: false)
        case (false, false): break
        }
        // A routed flow came in on one interface and left by another: the link's direction says
        // nothing about which end is this machine's (a container's), so the scopes decide.
        switch isRouted ? .unknown : originatorLinkDirection {
        case .outgoing: return FlowOrientation(direction: .outbound, originatorIsLocal: true)
        case .incoming: return FlowOrientation(direction: .inbound, originatorIsLocal: false)
        case .unknown: break
        }
        let originatorScope = originatorAddress.scope, responderScope = responderAddress.scope
        if originatorScope == .internet && responderScope != .internet && responderScope != .multicast {
            return FlowOrientation(direction: .inbound, originatorIsLocal: false)
        }
        return FlowOrientation(direction: .outbound, originatorIsLocal: true)
    }
}
