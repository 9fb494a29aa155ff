import PacketParsing

/// Chooses the sockets that own a flow among the sockets the kernel lists. Pure.
///
/// The order of preference, best first: the exact 5-tuple (IPv4 also through an IPv4-mapped IPv6
/// socket); then a socket bound to the local address and port with no peer (unconnected UDP, a ping
/// socket); then one bound to the wildcard address; for TCP, finally the listener of the local port
/// (a connection that is still in the handshake has no accepted socket yet). Raw sockets match on the
/// protocol they were opened for. Only the candidates of the best rank are returned: several of them
/// means the answer is ambiguous.
public enum SocketMatcher {
    /// How well an entry matches; larger is better, nil is no match.
    public static func rank(_ entry: SocketEntry, for query: SocketQuery) -> Int? {
        let local = normalized(query.localAddress)
        let remote = normalized(query.remoteAddress)
        let entryLocal = normalized(entry.localAddress)
        let entryRemote = normalized(entry.remoteAddress)
        let localMatches = entryLocal == local
        let localWildcard = entryLocal.isUnspecified && familyFits(entry.localAddress, query.localAddress)
        let remoteWildcard = entryRemote.isUnspecified
        let remoteMatches = entryRemote == remote

        if entry.ipProtocol == 255 {
            // A raw socket: "port" is the protocol it was opened for (IPPROTO_RAW sends any protocol).
            guard entry.localPort == UInt16(query.ipProtocol) || entry.localPort == 255 else { return nil }
            guard familyFits(entry.localAddress, query.localAddress) else { return nil }
            guard localMatches || localWildcard, remoteMatches || remoteWildcard else { return nil }
            return 1 + (localMatches ? 1 : 0) + (remoteMatches ? 1 : 0)
        }
        guard entry.ipProtocol == query.ipProtocol, entry.localPort == query.localPort else { return nil }
        let isTCP = query.ipProtocol == IPProtocolNumber.tcp
        if isTCP && entry.state == SocketEntry.tcpListen {
            return (localMatches || localWildcard) ? (localMatches ? 2 : 1) : nil
        }
        let remotePortMatches = entry.remotePort == query.remotePort
        if remoteMatches && remotePortMatches && localMatches {
            return entry.localAddress.family == query.localAddress.family ? 10 : 9
        }
        if isTCP { return nil }  // a TCP socket that is not the listener must match exactly
        if remoteMatches && remotePortMatches && localWildcard { return 8 }
        if remoteWildcard && (entry.remotePort == 0 || query.ipProtocol == IPProtocolNumber.icmp || query.ipProtocol == IPProtocolNumber.icmpv6) {
            if localMatches { return entry.localAddress.family == query.localAddress.family ? 7 : 6 }
            if localWildcard { return entry.localAddress.family == query.localAddress.family ? 5 : 4 }
        }
        return nil
    }

    /// The entries of the best rank (empty when nothing matches).
    public static func best(for query: SocketQuery, in entries: some Sequence<SocketEntry>) -> [SocketEntry] {
        var bestRank = Int.min
        var found: [SocketEntry] = []
        for entry in entries {
            guard let rank = rank(entry, for: query) else { continue }
            if rank > bestRank {
                bestRank = rank
                found = [entry]
            } else if rank == bestRank {
                found.append(entry)
            }
        }
        return found
    }

    /// An IPv4-mapped IPv6 address as plain IPv4, so that both spellings compare equal.
    static func normalized(_ address: IPAddress) -> IPAddress { address.unmappedV4 ?? address }

    /// Whether a socket of `socketAddress`'s family can carry traffic of `queryAddress`'s family:
    /// an IPv6 socket carries IPv4 through mapped addresses, an IPv4 socket never carries IPv6.
    static func familyFits(_ socketAddress: IPAddress, _ queryAddress: IPAddress) -> Bool {
        socketAddress.family == .v6 || normalized(queryAddress).family == .v4
    }
}
