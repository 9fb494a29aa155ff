public import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Where exports go: a numeric address or a Unix socket (`Posix.SocketAddress`).
public typealias SocketAddress = Posix.SocketAddress

extension SocketAddress {
    /// Parses the address; the error says what form is expected.
    public static func parse(_ text: String) throws(ExportError) -> SocketAddress {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/"), path.utf8.count < 108 else {
                throw ExportError("address '\(text)'", "a Unix socket is unix:/absolute/path (shorter than 108 bytes)")
            }
            return .unix(path: path)
        }
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ExportError("address '\(text)'", "expected [IPv6]:port")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ExportError("address '\(text)'", "expected IPv4:port, [IPv6]:port or unix:/path")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else {
            throw ExportError("address '\(text)'", "the port must be a number from 1 to 65535")
        }
        var probe = [UInt8](repeating: 0, count: 16)
        let family = host.contains(":") ? AF_INET6 : AF_INET
        guard String(host).withCString({ inet_pton(family, $0, &probe) }) == 1 else {
            throw ExportError("address '\(text)'", "'\(host)' is not a numeric IP address (names are not resolved)")
        }
        return .inet(host: String(host), port: port)
    }

    /// What kind of address reaches more than one host, or none: "multicast", "broadcast" or
    /// "unspecified"; nil for one host's address (and for Unix sockets). Flow records sent to a
    /// group go to every host on the network that joins it.
    public var groupKind: String? {
        guard case .inet(let host, _) = self else { return nil }
        if host.contains(":") {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard host.withCString({ inet_pton(AF_INET6, $0, &bytes) }) == 1 else { return nil }
            if bytes[0] == 0xFF { return "multicast" }
            if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
            // An IPv4-mapped address is judged as the IPv4 address it carries.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return Self.ipv4GroupKind(Array(bytes[12..<16]))
            }
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: 4)
        guard host.withCString({ inet_pton(AF_INET, $0, &bytes) }) == 1 else { return nil }
        return Self.ipv4GroupKind(bytes)
    }

    private static func ipv4GroupKind(_ bytes: [UInt8]) -> String? {
        if (224...239).contains(bytes[0]) { return "multicast" }
        if bytes.allSatisfy({ $0 == 255 }) { return "broadcast" }
        if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
        return nil
    }

    /// Why this address cannot be an IPFIX collector, or nil: a Unix socket, or (unless `allowGroup`)
    /// a multicast or broadcast address, which would hand every flow record to the whole network.
    public func collectorProblem(allowGroup: Bool) -> String? {
        if case .unix = self { return "expected an IP address and port, such as 192.0.2.10:4739" }
        switch groupKind {
        case "unspecified"?: return "\(self) is no host's address; give the collector's"
        case let kind? where !allowGroup:
            return "\(self) is a \(kind) address: every host that listens would receive each flow record; "
                + "give one collector's address, or allow it explicitly (--ipfix-group, export.ipfix.allow_group: true)"
        default: return nil
        }
    }
}
