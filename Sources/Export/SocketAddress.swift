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
}
