/// Where a destination lies as seen from this machine.
public enum AddressScope: String, Sendable, Hashable, CaseIterable {
    case loopback
    case linkLocal = "link-local"
    case lan
    case multicast
    case internet
}

extension IPAddress {
    /// The scope of this address by the built-in ranges: loopback, link-local, LAN (RFC 1918, IPv6 ULA,
    /// CGNAT 100.64/10), multicast and broadcast, and internet for everything else.
    ///
    /// 198.18.0.0/15 is internet: fake-IP proxies hand it out for real internet destinations.
    public var scope: AddressScope {
        if let v4 = unmappedV4 { return v4.scope }
        switch family {
        case .v4:
            let v = UInt32(truncatingIfNeeded: low)
            let first = v >> 24
            if first == 127 { return .loopback }
            if v >> 16 == 0xa9fe { return .linkLocal }  // 169.254/16
            if first >= 224 && first <= 239 { return .multicast }
            if v == 0xffff_ffff { return .multicast }  // limited broadcast behaves like multicast: it stays on the link
            if first == 10 || v >> 20 == 0xac1 || v >> 16 == 0xc0a8 { return .lan }  // 10/8, 172.16/12, 192.168/16
            if v >> 22 == (100 << 2 | 1) { return .lan }  // 100.64/10
            if v == 0 { return .loopback }
            return .internet
        case .v6:
            if high == 0 && low == 1 { return .loopback }
            if high == 0 && low == 0 { return .loopback }
            let top16 = high >> 48
            if top16 & 0xffc0 == 0xfe80 { return .linkLocal }
            if top16 & 0xff00 == 0xff00 {
                // ff02::/16 and ff01:: are link- and node-local multicast; all are "multicast" here.
                return .multicast
            }
            if top16 & 0xfe00 == 0xfc00 { return .lan }  // fc00::/7 unique local
            if top16 & 0xffc0 == 0xfec0 { return .lan }  // deprecated site-local
            return .internet
        }
    }
}
