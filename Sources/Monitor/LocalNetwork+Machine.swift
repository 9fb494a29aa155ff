public import Capture
public import Flows
public import PacketParsing

extension LocalNetwork {
    /// This machine's addresses on every interface, plus any extra networks a user declares local.
    public static func thisMachine(extra: [IPNetwork] = []) -> LocalNetwork {
        let interfaces = (try? PcapHandle.interfaces()) ?? []
        let addresses = interfaces.flatMap(\.addresses).compactMap { IPAddress($0) }
        return LocalNetwork(addresses: Set(addresses), networks: extra)
    }
}
