import PacketParsing

/// Parses the socket tables of `/proc/net` (`tcp`, `tcp6`, `udp`, `udp6`, `raw`, `raw6`, `icmp`, `icmp6`).
///
/// Pure: text in, entries out. A malformed line is skipped and counted, never a trap.
public enum SocketTable {
    /// The entries of one table and how many lines could not be read.
    public struct Parsed: Sendable, Equatable {
        public var entries: [SocketEntry]
        public var malformedLines: Int
    }

    /// Parses the text of a table of kind `kind`.
    public static func parse(_ text: some StringProtocol, kind: SocketTableKind) -> Parsed {
        var entries: [SocketEntry] = []
        var malformed = 0
        var first = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if first {
                first = false
                if line.contains("local_address") { continue }  // the header
            }
            if line.allSatisfy({ $0 == " " }) { continue }
            if let entry = parseLine(line, kind: kind) {
                entries.append(entry)
            } else {
                malformed += 1
            }
        }
        return Parsed(entries: entries, malformedLines: malformed)
    }

    /// Parses one data line: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`.
    public static func parseLine(_ line: some StringProtocol, kind: SocketTableKind) -> SocketEntry? {
        let fields = Substring(line).split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 10, fields[0].hasSuffix(":") else { return nil }
        guard let local = parseEndpoint(fields[1], v6: kind.isIPv6),
              let remote = parseEndpoint(fields[2], v6: kind.isIPv6),
              let state = UInt8(fields[3], radix: 16),
              let uid = UInt32(fields[7]),
              let inode = UInt64(fields[9])
        else { return nil }
        return SocketEntry(
            ipProtocol: kind.ipProtocol, localAddress: local.address, localPort: local.port,
            remoteAddress: remote.address, remotePort: remote.port, state: state, uid: uid, inode: inode)
    }

    /// Parses `0100007F:0050` (IPv4) or 32 hex digits and a port (IPv6).
    ///
    /// The kernel prints each 32-bit word of the address as it lies in memory, so the words are in
    /// network order only after a byte swap on little-endian machines; the port is in host order.
    static func parseEndpoint(_ text: Substring, v6: Bool) -> (address: IPAddress, port: UInt16)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1], radix: 16), parts[1].count == 4 else { return nil }
        let hex = parts[0]
        guard hex.count == (v6 ? 32 : 8), hex.allSatisfy(\.isHexDigit) else { return nil }
        var words: [UInt32] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 8)
            guard let raw = UInt32(hex[index..<next], radix: 16) else { return nil }
            words.append(UInt32(bigEndian: raw))
            index = next
        }
        if !v6 { return (IPAddress(v4: words[0]), port) }
        let high = UInt64(words[0]) << 32 | UInt64(words[1])
        let low = UInt64(words[2]) << 32 | UInt64(words[3])
        return (IPAddress(v6High: high, low: low), port)
    }
}
