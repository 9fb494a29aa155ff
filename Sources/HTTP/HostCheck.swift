/// Which `Host` and `Origin` a loopback server answers: its own loopback names only.
///
/// A web page can reach a server on 127.0.0.1 in two ways this refuses: by rebinding its own name
/// to 127.0.0.1 (its requests then carry `Host: evil.example`), and by a cross-site request from
/// its script (which carries `Origin: https://evil.example`, or `null` from a sandboxed frame).
public struct HostCheck: Sendable, Equatable {
    /// Host names (without port) answered: loopback names, and the address listened on.
    public let allowedHosts: Set<String>

    /// The names answered by a server listening on `host` (nil: a Unix socket).
    public init(listeningOn host: String?) {
        var names: Set<String> = ["localhost", "127.0.0.1", "::1"]
        if let host { names.insert(host.lowercased()) }
        allowedHosts = names
    }

    /// Why a request must not be answered, or nil when it may be.
    public func refusal(of head: HTTPRequest.Head) -> String? {
        guard let host = head.headers["host"] else { return "a request without a Host header is refused" }
        guard allowedHosts.contains(Self.hostName(host)) else {
            return "Host '\(host.prefix(100))' is not this server's (\(allowedHosts.sorted().joined(separator: ", "))): refused against DNS rebinding"
        }
        if let origin = head.headers["origin"] {
            // `null` is what a sandboxed frame, a `data:` page or a file sends: a page, and not one
            // of this server's, so it is foreign like any other site.
            if origin[...].trimmingWhitespace().lowercased() == "null" {
                return "Origin 'null' (a sandboxed frame, a data: or file page) is not this server's: cross-site requests are refused"
            }
            let name = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            guard origin.hasPrefix("http://") || origin.hasPrefix("https://"), allowedHosts.contains(Self.hostName(name)) else {
                return "Origin '\(origin.prefix(100))' is another site: cross-site requests are refused"
            }
        }
        return nil
    }

    /// The name of a `Host` value without its port: `localhost`, `127.0.0.1`, `::1` (from `[::1]:8080`).
    public static func hostName(_ value: String) -> String {
        let value = value[...].trimmingWhitespace().lowercased()
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            return String(value[value.index(after: value.startIndex)..<close])
        }
        if let colon = value.lastIndex(of: ":"), value.firstIndex(of: ":") == colon { return String(value[..<colon]) }
        return value
    }
}
