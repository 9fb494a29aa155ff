import PacketParsing

/// Socket lookups through netlink sock_diag (what `ss` uses): an exact 5-tuple request for TCP and UDP,
/// and dumps of one protocol and family.
///
/// Not thread-safe: owned by the `Attributor`'s lookup state. `@unchecked Sendable` is safe because it is
/// only reachable through that state's mutex, so one thread at a time uses it.
final class SocketDiagnostics: @unchecked Sendable {
    private let socket: NetlinkSocket
    /// Protocols the kernel does not know (no SCTP module, no raw_diag): asked once, then skipped.
    private(set) var unsupported: Set<UInt8> = []

    init() throws(NetlinkError) {
        socket = try NetlinkSocket(netlinkProtocol: NetlinkSocket.protocolSockDiag)
    }

    /// The socket with exactly these endpoints, or nil. For UDP the kernel's lookup is the receive
    /// path's: a connected socket, or the unconnected socket bound to the local address or the wildcard.
    func exact(ipProtocol: UInt8, local: IPAddress, localPort: UInt16, remote: IPAddress, remotePort: UInt16) throws(NetlinkError) -> SocketEntry? {
        let v6 = local.family == .v6 && local.unmappedV4 == nil
        var families: [UInt8] = v6 ? [NetlinkMessages.familyIPv6] : [NetlinkMessages.familyIPv4, NetlinkMessages.familyIPv6]
        if ipProtocol == IPProtocolNumber.udp && !v6 { families = [NetlinkMessages.familyIPv4] }  // the v4 lookup also finds dual-stack sockets
        for family in families {
            let useLocalFirst = ipProtocol != IPProtocolNumber.udp
            // udp_dump_one swaps source and destination "for historical reasons".
            let source = useLocalFirst ? (local, localPort) : (remote, remotePort)
            let destination = useLocalFirst ? (remote, remotePort) : (local, localPort)
            let request = NetlinkMessages.inetDiagRequest(
                family: family, ipProtocol: ipProtocol, states: 0xffff_ffff, local: source, remote: destination)
            do {
                let answer = try socket.exchange(type: NetlinkMessages.sockDiagByFamily, flags: NetlinkMessages.flagRequest, payload: request)
                if let message = answer.first, let entry = NetlinkMessages.inetDiagEntry(message.payload, ipProtocol: ipProtocol) {
                    return entry
                }
            } catch where error.isNoSuchSocket {
                continue
            }
        }
        return nil
    }

    /// Every socket of one protocol and family. Throws for protocols the kernel lacks (and remembers them).
    func dump(ipProtocol: UInt8, v6: Bool) throws(NetlinkError) -> [SocketEntry] {
        let request = NetlinkMessages.inetDiagRequest(
            family: v6 ? NetlinkMessages.familyIPv6 : NetlinkMessages.familyIPv4, ipProtocol: ipProtocol, states: 0xffff_ffff)
        do {
            let answer = try socket.exchange(
                type: NetlinkMessages.sockDiagByFamily, flags: NetlinkMessages.flagRequest | NetlinkMessages.flagDump, payload: request)
            return answer.compactMap { NetlinkMessages.inetDiagEntry($0.payload, ipProtocol: ipProtocol) }
        } catch {
            unsupported.insert(ipProtocol)
            throw error
        }
    }
}
