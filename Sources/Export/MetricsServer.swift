public import HTTP
public import Posix
import Synchronization

/// Serves the latest metrics text over HTTP on a loopback port or a Unix socket, for a Prometheus
/// that scrapes the daemon directly. It runs on the project's one `HTTPServer`, with limits of its
/// own: up to `Limits.maximumConnections` at once, each exchange two seconds from its accept
/// however its client trickles (cut unanswered then), and a full house gives way to the newcomer
/// by closing the oldest connection still sending its request.
///
/// Only loopback addresses and Unix sockets are accepted: the metrics name programs and their
/// traffic, and the daemon takes no traffic from the network.
public final class MetricsServer: Sendable {
    public let address: SocketAddress
    public let limits: Limits
    private let server: HTTPServer
    private let latest: Latest

    /// The text the next scrape gets, and the scrapes answered: shared by the server's handler.
    private final class Latest: Sendable {
        let text = Mutex("")
        let served = Atomic<Int64>(0)
    }

    public init(address: SocketAddress, limits: Limits = Limits()) throws(ExportError) {
        self.limits = limits
        guard address.isLocal else {
            throw ExportError("metrics.listen '\(address)'", "only a loopback address (127.0.0.1, ::1) or unix:/path is served")
        }
        let latest = Latest()
        do throws(SystemError) {
            // A Unix socket is for every local user to scrape, as a loopback port is.
            server = try HTTPServer(address: address, permissions: 0o666, limits: limits.http) { request, writer in
                let (response, isScrape) = MetricsServer.reply(to: request, metrics: latest.text.withLock { $0 })
                if isScrape { latest.served.add(1, ordering: .relaxed) }
                writer.send(response, headOnly: request.method == "HEAD")
            }
        } catch {
            throw ExportError("metrics.listen '\(address)'", error.description)
        }
        self.address = server.address
        self.latest = latest
    }

    /// The text the next scrape gets.
    public func update(_ metrics: String) { latest.text.withLock { $0 = metrics } }

    public var requestsServed: Int64 { latest.served.load(ordering: .relaxed) }

    /// Starts the accepting thread.
    public func start() throws(ExportError) {
        server.start()
    }

    /// Stops accepting and waits for the accepting thread, which removes a Unix socket's file.
    public func stop() {
        server.stop()
    }

    /// How long one exchange (request head and answer) may take, connections held at once, and the
    /// longest request head: a local client that trickles bytes or holds connections open cannot
    /// keep a scrape waiting longer than this.
    public struct Limits: Sendable {
        public var exchangeDeadline: Int64 = 2_000_000_000
        public var maximumConnections = 16
        public var maximumHead = 8192
        public init() {}

        /// The same, as the HTTP server's limits.
        var http: HTTPServer.Limits {
            var limits = HTTPServer.Limits()
            limits.connections = maximumConnections
            limits.overflow = .evictOldestReader
            limits.maximumHeadBytes = maximumHead
            // A scrape has no body; a small one is read and answered 405 rather than refused unread.
            limits.maximumBodyBytes = 64 << 10
            limits.bodyBudget = 1 << 20
            let seconds = Double(exchangeDeadline) / 1e9
            limits.requestDeadline = seconds
            limits.ioTimeout = seconds
            limits.exchangeDeadline = seconds
            limits.answersLateRequests = false
            return limits
        }
    }

    /// The answer to a request: the metrics for `GET` or `HEAD` of `/metrics` or `/`, 404 for
    /// another path, 405 for another method; and whether it was a scrape. (A `HEAD` is sent the
    /// head alone.)
    public static func reply(to request: HTTPRequest, metrics body: String) -> (response: HTTPResponse, isScrape: Bool) {
        guard request.method == "GET" || request.method == "HEAD" else {
            return (HTTPResponse(status: 405, fields: [.init("Allow", "GET, HEAD")]), false)
        }
        guard request.path == "/metrics" || request.path == "/" else {
            return (HTTPResponse(status: 404, contentType: "text/plain", body: Array("metrics are /metrics\r\n".utf8)), false)
        }
        return (HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(body.utf8)), true)
    }
}
