// Our own HTTP/1.1 rather than swift-nio's or Hummingbird 2's, by measurement (bench/http-server.sh,
// bench/README.md): serving the same bytes, this layer alone answered 2.6 times the requests/s of a
// minimal Hummingbird server (a new connection each, as all our clients make), read a 2,000-event
// stream in a third of the time, peaked at 0.63 of its memory and strips to 2.4 MB beside 10.2 MB.
// That last figure is the deciding one: Hummingbird would add about 8 MB to each of telltale,
// telltale-llama and telltale-chat while the package must shrink under 100 MiB, and would bring an
// event loop into the privileged daemon for one scrape a second. What a framework would give us
// beyond that (keep-alive, HTTP/2, TLS) no client of ours uses.
public import Logging
public import Posix
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on a stream socket: one thread accepts, one thread per connection
/// answers one request and closes the connection.
///
/// It holds the guarantees a loopback server needs against web pages and stuck clients, for every
/// server of the project alike: only loopback names in `Host` and `Origin` (`HostCheck`), a
/// deadline for receiving each request and one on every read and write, a cap on open connections
/// (past it a newcomer is refused, or the oldest connection still sending its request makes room),
/// and a budget for the request bodies held in memory at once. `Limits` sets each.
///
/// Handlers run on the connection's thread and may block (a generation, a stream of events); the
/// connection closes when the handler returns.
public final class HTTPServer: Sendable {
    /// Answers one request by writing to the connection.
    public typealias Handler = @Sendable (HTTPRequest, HTTPResponseWriter) -> Void
    /// Writes the answer to a request the server itself turns away.
    public typealias RefusalWriter = @Sendable (Refusal, HTTPResponseWriter) -> Void

    /// A request the server turns away before any handler sees it.
    public struct Refusal: Sendable, Equatable {
        /// 400, 403, 408, 413, 431 or 503.
        public var status: Int
        public var message: String
        public var kind: Kind

        /// Whose doing the refusal is.
        public enum Kind: Sendable, Equatable {
            /// The request itself: malformed, too large, too slow.
            case invalidRequest
            /// A `Host` or `Origin` that is not this server's.
            case forbidden
            /// The server's load: too many connections or bodies at once.
            case overloaded
        }
    }

    /// The address listened on (with the port the system chose when 0 was asked for).
    public let address: SocketAddress
    /// The host listened on; empty for a Unix socket.
    public var host: String {
        if case .inet(let host, _) = address { return host }
        return ""
    }
    /// The port listened on; 0 for a Unix socket.
    public var port: Int {
        if case .inet(_, let port) = address { return Int(port) }
        return 0
    }

    private let listener: Int32
    private let handler: Handler
    private let refuse: RefusalWriter
    private let logger: Logger
    private let limits: Limits
    private let hostCheck: HostCheck
    private let open = Mutex(OpenConnections())
    private let bodyBytes = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let accepting = Atomic<Bool>(false)
    private let listenerClosed = Atomic<Bool>(false)
    /// Signalled when `run()` returns, for `stop()` to wait on after `start()`.
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    /// The connections being served, by number: what eviction chooses among.
    private struct OpenConnections {
        struct Entry {
            let descriptor: Int32
            let accepted: Int64
            var receiving = true
        }
        var next = 0
        var entries: [Int: Entry] = [:]
    }

    /// Binds and listens on `address`; `run()` or `start()` then accepts connections. A Unix
    /// socket file is made readable and writable by every local user (`permissions`).
    public init(
        address: SocketAddress, permissions: UInt32? = nil, logger: Logger = Logger(label: "telltale.http"), limits: Limits = Limits(),
        refusing: RefusalWriter? = nil, handler: @escaping Handler
    ) throws(SystemError) {
        let fd = try Socket.listen(on: address, backlog: 128, permissions: permissions)
        if case .inet(let host, let port) = address, port == 0, let chosen = Socket.localPort(of: fd) {
            self.address = .inet(host: host, port: chosen)
        } else {
            self.address = address
        }
        listener = fd
        self.handler = handler
        self.refuse = refusing ?? Self.plainRefusal
        self.logger = logger
        self.limits = limits
        if case .inet(let host, _) = address {
            hostCheck = HostCheck(listeningOn: host)
        } else {
            hostCheck = HostCheck(listeningOn: nil)
        }
    }

    /// Binds and listens on a numeric IP address and port (0: one the system chooses).
    public convenience init(
        host: String, port: Int, logger: Logger = Logger(label: "telltale.http"), limits: Limits = Limits(), refusing: RefusalWriter? = nil,
        handler: @escaping Handler
    ) throws(SystemError) {
        guard let port = UInt16(exactly: port) else { throw SystemError("listen on \(host):\(port)", code: EINVAL) }
        try self.init(address: .inet(host: host, port: port), logger: logger, limits: limits, refusing: refusing, handler: handler)
    }

    /// Accepts connections until `stop()` is called, answering each on a thread of its own.
    public func run() {
        accepting.store(true, ordering: .releasing)
        // The listening descriptor is closed here, once no accept can use it: closed in `stop()`, its
        // number could be reused by another socket before this loop saw the stop.
        defer {
            closeListener()
            finished.signal()
        }
        while !stopping.load(ordering: .acquiring) {
            let connection: Int32?
            do throws(SystemError) {
                // A bounded wait, so that a stop is seen even if no wake-up reaches the poll.
                connection = try Socket.accept(listener, deadline: SystemClock.monotonicNanoseconds() + 200_000_000)
            } catch let error where error.code == EMFILE || error.code == ENFILE {
                // Out of descriptors: pause, since the next accept would fail the same way at once.
                usleep(50_000)
                continue
            } catch {
                if !stopping.load(ordering: .acquiring) { logger.debug("accept ended", metadata: ["error": "\(error)"]) }
                return
            }
            if let connection { admit(connection) }
        }
    }

    /// Starts `run()` on a thread of its own; `stop()` then waits for it to end.
    public func start() {
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in run() }
        thread.name = "http-accept"
        thread.start()
    }

    /// Stops accepting; requests in progress finish. After `start()`, waits until the accepting
    /// thread has closed the listener.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Socket.shutdown(listener)
        if started.load(ordering: .acquiring) {
            finished.wait()
        } else if !accepting.load(ordering: .acquiring) {
            closeListener()
        }
    }

    /// Connections being served now, and request-body bytes reserved now.
    public var load: (connections: Int, bodyBytes: Int) {
        (open.withLock { $0.entries.count }, bodyBytes.load(ordering: .acquiring))
    }

    private func closeListener() {
        guard !listenerClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Socket.closeListener(listener, address: address)
    }

    /// Takes an accepted connection into the house, making room by the overflow rule, and serves
    /// it on a thread of its own.
    private func admit(_ fd: Int32) {
        let now = SystemClock.monotonicNanoseconds()
        let number: Int? = open.withLock { open in
            if open.entries.count >= limits.connections {
                guard limits.overflow == .evictOldestReader,
                      let oldest = open.entries.filter({ $0.value.receiving }).min(by: { $0.value.accepted < $1.value.accepted })
                else { return nil }
                // Only woken here, under the lock: its own thread closes the descriptor once it has
                // left the table, so the number cannot have been reused by then.
                Socket.shutdown(oldest.value.descriptor)
                open.entries[oldest.key] = nil
            }
            let number = open.next
            open.next += 1
            open.entries[number] = OpenConnections.Entry(descriptor: fd, accepted: now)
            return number
        }
        guard let number else {
            // Answered from the accepting thread: a short answer fits the socket's buffer, and the
            // deadline bounds it if it does not.
            let writer = HTTPResponseWriter(descriptor: fd, ioTimeout: 1_000_000_000, exchangeEnd: nil)
            refuse(Refusal(status: 503, message: "too many connections (\(limits.connections)); try again", kind: .overloaded), writer)
            writer.close()
            return
        }
        let thread = Thread { [self] in serve(fd, number: number, accepted: now) }
        thread.name = "http-connection"
        thread.start()
    }

    private func serve(_ fd: Int32, number: Int, accepted: Int64) {
        let writer = HTTPResponseWriter(
            descriptor: fd, ioTimeout: limits.ioTimeout.nanoseconds, exchangeEnd: limits.exchangeDeadline.map { accepted + $0.nanoseconds })
        defer {
            open.withLock { $0.entries[number] = nil }
            writer.close()
        }
        var reserved = 0
        // The body stays reserved while the handler holds the request.
        defer { bodyBytes.subtract(reserved, ordering: .acquiringAndReleasing) }
        guard let request = receive(fd, writer, accepted: accepted, reserved: &reserved) else { return }
        open.withLock { $0.entries[number]?.receiving = false }
        logger.debug("request", metadata: ["method": "\(request.method)", "path": "\(request.path)"])
        handler(request, writer)
    }

    /// Reads one request within the limits, reserving its body's bytes in `reserved`; nil when it
    /// was refused (and answered) or the client went away.
    private func receive(_ fd: Int32, _ writer: HTTPResponseWriter, accepted: Int64, reserved: inout Int) -> HTTPRequest? {
        var requestEnd = accepted + limits.requestDeadline.nanoseconds
        if let exchange = limits.exchangeDeadline { requestEnd = min(requestEnd, accepted + exchange.nanoseconds) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)

        /// Receives more bytes into `buffer`: false when the client closed or a deadline passed.
        func more() -> Bool {
            let now = SystemClock.monotonicNanoseconds()
            let count: Int
            do throws(SystemError) {
                count = try Socket.receive(fd, into: &chunk, deadline: min(requestEnd, now + limits.ioTimeout.nanoseconds), what: "receive")
            } catch let error where error.code == ETIMEDOUT {
                if limits.answersLateRequests {
                    let message = SystemClock.monotonicNanoseconds() >= requestEnd
                        ? "the request did not arrive within \(Int(limits.requestDeadline)) s"
                        : "the client sent nothing for \(Int(limits.ioTimeout)) s"
                    refuse(Refusal(status: 408, message: message, kind: .invalidRequest), writer)
                }
                return false
            } catch {
                return false
            }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }

        var headEnd: Int?
        while headEnd == nil {
            let searchFrom = max(0, buffer.count - 3)
            guard more() else { return nil }
            headEnd = HTTPRequest.headEnd(in: buffer, from: searchFrom)
            if headEnd == nil, buffer.count > limits.maximumHeadBytes {
                refuse(Refusal(status: 431, message: "request head too large", kind: .invalidRequest), writer)
                return nil
            }
        }
        guard let end = headEnd else { return nil }
        let head: HTTPRequest.Head
        do throws(HTTPRequest.ParseError) {
            head = try HTTPRequest.parseHead(buffer[0..<end])
        } catch {
            refuse(Refusal(status: 400, message: "malformed request: \(error)", kind: .invalidRequest), writer)
            return nil
        }
        if let refusal = hostCheck.refusal(of: head) {
            refuse(Refusal(status: 403, message: refusal, kind: .forbidden), writer)
            return nil
        }
        guard head.contentLength <= limits.maximumBodyBytes else {
            refuse(Refusal(status: 413, message: "request body larger than \(limits.maximumBodyBytes) bytes", kind: .invalidRequest), writer)
            return nil
        }
        // The body's bytes are reserved before they are read: many held bodies cannot exhaust memory.
        guard bodyBytes.add(head.contentLength, ordering: .acquiringAndReleasing).newValue <= limits.bodyBudget else {
            bodyBytes.subtract(head.contentLength, ordering: .acquiringAndReleasing)
            refuse(Refusal(status: 503, message: "too many request bodies in progress; try again", kind: .overloaded), writer)
            return nil
        }
        reserved = head.contentLength
        while buffer.count - (end + 4) < head.contentLength {
            guard more() else { return nil }
        }
        return HTTPRequest(method: head.method, path: head.path, query: head.query, headers: head.headers,
                           body: Array(buffer[(end + 4)..<(end + 4 + head.contentLength)]))
    }

    /// The default answer to a refused request: its status and message as plain text.
    public static let plainRefusal: RefusalWriter = { refusal, writer in
        writer.send(status: refusal.status, contentType: "text/plain; charset=utf-8", body: Array((refusal.message + "\n").utf8))
    }
}
