import Foundation
import HTTP

/// An OpenAI-compatible API on this machine: http, a loopback host, a port, a base path. Requests
/// go through the project's `HTTPClient`: one connection each, with a deadline.
struct Endpoint: CustomStringConvertible {
    var host: String
    var port: UInt16
    var basePath: String

    /// Parses `http://127.0.0.1:8080/v1`; nil for another scheme or a host off this machine.
    init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        basePath = String(rest.dropFirst(authority.count))
        if basePath.hasSuffix("/") { basePath.removeLast() }
        var hostPart: Substring, portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            portPart = after.hasPrefix(":") ? after.dropFirst() : nil
        } else {
            let pieces = authority.split(separator: ":", maxSplits: 1)
            guard let first = pieces.first else { return nil }
            hostPart = first
            portPart = pieces.count == 2 ? pieces[1] : nil
        }
        switch hostPart {
        case "127.0.0.1", "localhost": host = "127.0.0.1"
        case "::1": host = "::1"
        default: return nil
        }
        guard let port = UInt16(portPart.map(String.init) ?? "80"), port > 0 else { return nil }
        self.port = port
    }

    var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(basePath)" }

    /// POSTs a JSON body to basePath + path; the status and the body of the answer, all within
    /// `timeout` seconds.
    func post(path: String, body: Data, timeout: Double) throws(HTTPClient.Failure) -> (status: Int, body: Data) {
        let client = HTTPClient(host: host, port: port, timeout: timeout)
        let response = try client.post(basePath + path, contentType: "application/json", body: Array(body))
        return (response.status, Data(response.body))
    }
}
