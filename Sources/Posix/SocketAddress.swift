#if canImport(Glibc)
public import Glibc
#endif

/// A numeric socket address (`192.0.2.1:4739`, `[2001:db8::1]:4739`) or a Unix socket path
/// (`unix:/run/telltale/metrics.sock`), and the C address it stands for. Names have no place here:
/// resolving one would send a DNS query, and Telltale sends nothing it was not told to.
public enum SocketAddress: Sendable, Equatable, CustomStringConvertible {
    case inet(host: String, port: UInt16)
    case unix(path: String)

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
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t, Int32) -> R) -> R {
        var storage = sockaddr_storage()
        /// Puts a concrete C address into the storage and says how long it is.
        func store<Address>(_ address: Address) -> socklen_t {
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            return socklen_t(MemoryLayout<Address>.size)
        }
        let length: socklen_t
        let family: Int32
        switch self {
        case .inet(let host, let port):
            if host.contains(":") {
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                _ = host.withCString { inet_pton(AF_INET6, $0, &a.sin6_addr) }
                (length, family) = (store(a), AF_INET6)
            } else {
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                _ = host.withCString { inet_pton(AF_INET, $0, &a.sin_addr) }
                (length, family) = (store(a), AF_INET)
            }
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &a.sun_path) { dst in
                for (i, b) in bytes.enumerated() where i < dst.count - 1 { dst[i] = b }
            }
            (length, family) = (store(a), AF_UNIX)
        }
        let copy = storage
        return withUnsafeBytes(of: copy) { raw in
            // A sockaddr_storage holds any address kind; reading it as the generic header is what the C API
            // expects. The base address of a non-empty buffer is never nil.
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length, family)
        }
    }

}
