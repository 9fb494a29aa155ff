#if canImport(Glibc)
import Glibc
#endif

/// A numeric socket address (`192.0.2.1:4739`, `[2001:db8::1]:4739`) or a Unix socket path
/// (`unix:/run/telltale/metrics.sock`). Names are refused: resolving one would send a DNS query,
/// and Telltale sends nothing it was not told to.
public enum SocketAddress: Sendable, Equatable, CustomStringConvertible {
    case inet(host: String, port: UInt16)
    case unix(path: String)

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

    public var description: String {
        switch self {
        case .inet(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// Whether the address is on this machine only (a loopback address or a Unix socket).
    public var isLocal: Bool {
        switch self {
        case .unix: true
        case .inet(let host, _): host == "::1" || host.hasPrefix("127.")
        }
    }

    /// Runs `body` with the C address. The corresponding C function is `inet_pton`.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t, Int32) -> R) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        switch self {
        case .inet(let host, let port):
            if host.contains(":") {
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                _ = host.withCString { inet_pton(AF_INET6, $0, &a.sin6_addr) }
                withUnsafeBytes(of: a) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                family = AF_INET6
            } else {
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                _ = host.withCString { inet_pton(AF_INET, $0, &a.sin_addr) }
                withUnsafeBytes(of: a) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
                family = AF_INET
            }
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &a.sun_path) { dst in
                for (i, b) in bytes.enumerated() where i < dst.count - 1 { dst[i] = b }
            }
            withUnsafeBytes(of: a) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_un>.size)
            family = AF_UNIX
        }
        let copy = storage
        return withUnsafeBytes(of: copy) { raw in
            // A sockaddr_storage holds any address kind; reading it as the generic header is what the C API
            // expects. The base address of a non-empty buffer is never nil.
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length, family)
        }
    }

    static func systemMessage() -> String { String(cString: strerror(errno)) }
}
