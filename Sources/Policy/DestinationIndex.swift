import PacketParsing

/// Every domain and network of every destination class, indexed so that one lookup per flow
/// yields all the classes a destination belongs to: hash maps per domain suffix and per prefix length.
struct DestinationIndex: Sendable {
    private struct V6Key: Hashable { var high: UInt64; var low: UInt64 }

    private var exact: [Substring: [Int32]] = [:]
    /// `*.example.com`: subdomains of the key, not the key itself.
    private var subdomains: [Substring: [Int32]] = [:]
    /// `.example.com`: the key and its subdomains.
    private var domainAndSubdomains: [Substring: [Int32]] = [:]
    private var globs: [(Glob, Int32)] = []
    private var v4: [[UInt32: [Int32]]] = Array(repeating: [:], count: 33)
    private var v4Lengths: [Int] = []
    private var v6: [[V6Key: [Int32]]] = Array(repeating: [:], count: 129)
    private var v6Lengths: [Int] = []

    init(classes: [DestinationClass]) {
        for (i, c) in classes.enumerated() {
            let id = Int32(i)
            for d in c.domains { addDomain(d, id) }
            for n in c.networks { addNetwork(n, id) }
        }
        v4Lengths = (0...32).filter { !v4[$0].isEmpty }.reversed()
        v6Lengths = (0...128).filter { !v6[$0].isEmpty }.reversed()
    }

    private static func add<K: Hashable>(_ map: inout [K: [Int32]], _ key: K, _ id: Int32) {
        if map[key]?.contains(id) == true { return }
        map[key, default: []].append(id)
    }

    private mutating func addDomain(_ d: String, _ id: Int32) {
        let body = Substring(d)
        if body.hasPrefix("*."), (try? Glob(String(body.dropFirst(2))))?.isLiteral == true {
            Self.add(&subdomains, body.dropFirst(2), id)
        } else if body.hasPrefix("."), body.count > 1, (try? Glob(String(body.dropFirst())))?.isLiteral == true {
            Self.add(&domainAndSubdomains, body.dropFirst(), id)
        } else if let g = try? Glob(d, caseInsensitive: true), !g.isLiteral {
            globs.append((g, id))
        } else {
            Self.add(&exact, body, id)
        }
    }

    private mutating func addNetwork(_ n: IPNetwork, _ id: Int32) {
        let address = n.address.unmappedV4 ?? n.address
        if address.family == .v4 {
            let length = address == n.address ? n.prefixLength : max(0, n.prefixLength - 96)
            let mask: UInt32 = length == 0 ? 0 : UInt32.max << UInt32(32 - length)
            Self.add(&v4[length], UInt32(truncatingIfNeeded: address.low) & mask, id)
        } else {
            Self.add(&v6[n.prefixLength], Self.masked(address, n.prefixLength), id)
        }
    }

    private static func masked(_ a: IPAddress, _ length: Int) -> V6Key {
        if length <= 64 {
            let mask: UInt64 = length == 0 ? 0 : UInt64.max << UInt64(64 - length)
            return V6Key(high: a.high & mask, low: 0)
        }
        let mask: UInt64 = UInt64.max << UInt64(128 - length)
        return V6Key(high: a.high, low: a.low & mask)
    }

    /// Appends the classes that hold the host name or the address (each once).
    func lookup(host: String?, address: IPAddress, into out: inout [Int32]) {
        func append(_ ids: [Int32]?) {
            guard let ids else { return }
            for id in ids where !out.contains(id) { out.append(id) }
        }
        let a = address.unmappedV4 ?? address
        if a.family == .v4 {
            let value = UInt32(truncatingIfNeeded: a.low)
            for length in v4Lengths {
                let mask: UInt32 = length == 0 ? 0 : UInt32.max << UInt32(32 - length)
                append(v4[length][value & mask])
            }
        } else {
            for length in v6Lengths { append(v6[length][Self.masked(a, length)]) }
        }
        guard var host, !host.isEmpty else { return }
        if host.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { host = host.lowercased() }
        var name = Substring(host)
        if name.hasSuffix(".") { name = name.dropLast() }
        append(exact[name])
        append(domainAndSubdomains[name])
        var rest = name
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            append(subdomains[rest])
            append(domainAndSubdomains[rest])
        }
        for (g, id) in globs where !out.contains(id) && g.matches(name) { out.append(id) }
    }
}
