public import Reporting
import Foundation
import HTTP

/// POSTs each alert's JSON to an `http://` URL, with a time limit per attempt and retries with a
/// growing pause. Any 2xx answer is delivery. Plain HTTP through the project's `HTTPClient`: no
/// TLS, no redirects, no proxies (point it at a local relay for anything more).
public struct WebhookSink: AlertSink {
    public let name = "webhook"
    public let host: String
    public let port: UInt16
    public let target: String
    public let timeout: Double
    public let retries: Int

    /// Why a webhook URL is refused.
    public struct URLProblem: Error, Equatable, Sendable, CustomStringConvertible {
        public var url: String
        public var description: String { "webhook: '\(url)' is not an http://HOST[:PORT]/PATH URL" }
    }

    public init(url: String, timeout: Double = 5, retries: Int = 2) throws(URLProblem) {
        guard url.hasPrefix("http://") else { throw URLProblem(url: url) }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        target = slash == rest.endIndex ? "/" : String(rest[slash...])
        var hostPart = authority
        var port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw URLProblem(url: url) }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = UInt16(after.dropFirst()) else { throw URLProblem(url: url) }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            guard let p = UInt16(authority[authority.index(after: colon)...]) else { throw URLProblem(url: url) }
            port = p
        }
        guard !hostPart.isEmpty else { throw URLProblem(url: url) }
        host = String(hostPart)
        self.port = port
        self.timeout = timeout
        self.retries = max(0, retries)
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        for attempt in 0...retries {
            if attempt > 0 { usleep(UInt32(min(5.0, 0.2 * pow(2, Double(attempt - 1))) * 1_000_000)) }
            if let status = post(json), (200..<300).contains(status) { return true }
        }
        return false
    }

    /// One POST; the HTTP status, or nil when the exchange failed.
    func post(_ body: String) -> Int? {
        // The answer's body is read too (the connection closes after it), but only its status counts.
        let client = HTTPClient(host: host, port: port, timeout: timeout, maximumResponseBytes: 1 << 20)
        do throws(HTTPClient.Failure) {
            return try client.post(target, contentType: "application/json", body: Array(body.utf8), fields: [.init("User-Agent", "telltale")]).status
        } catch {
            return nil
        }
    }
}
