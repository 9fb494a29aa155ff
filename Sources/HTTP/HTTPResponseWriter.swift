import Posix

/// Writes one response to a connection: whole, or as a stream of server-sent events.
///
/// Owned by the one thread that serves the connection; never shared. Each write has its own
/// deadline (the server's `ioTimeout`), and none goes past the end of the exchange when the server
/// has one. A client that went away, or stopped reading until a deadline passed, is disconnected:
/// writes after that are dropped.
public final class HTTPResponseWriter: @unchecked Sendable {
    private let descriptor: Int32
    private let ioTimeout: Int64
    private let exchangeEnd: Int64?
    private var closed = false
    /// False once the client went away; writes after that are dropped.
    public private(set) var isConnected = true

    init(descriptor: Int32, ioTimeout: Int64, exchangeEnd: Int64?) {
        self.descriptor = descriptor
        self.ioTimeout = ioTimeout
        self.exchangeEnd = exchangeEnd
    }

    /// Sends a complete response; `headOnly` sends its head alone (the answer to `HEAD`), with the
    /// body's length.
    public func send(_ response: HTTPResponse, headOnly: Bool = false) {
        write(response.head(contentLength: response.body.count) + (headOnly ? [] : response.body))
    }

    /// Sends a complete response with a `Content-Type`.
    public func send(status: Int, contentType: String, body: [UInt8]) {
        send(HTTPResponse(status: status, contentType: contentType, body: body))
    }

    /// Sends a complete `application/json` response.
    public func sendJSON(status: Int = 200, _ body: [UInt8]) {
        send(status: status, contentType: "application/json", body: body)
    }

    /// Starts a `text/event-stream` response; the body ends when the connection closes.
    public func startEventStream() {
        let response = HTTPResponse(status: 200, fields: [.init("Content-Type", "text/event-stream"), .init("Cache-Control", "no-cache")])
        write(response.head(contentLength: nil))
    }

    /// Sends one event: `data: PAYLOAD` and a blank line. Whether the client is still there.
    @discardableResult
    public func sendEvent(_ payload: [UInt8]) -> Bool {
        write(Array("data: ".utf8) + payload + Array("\n\n".utf8))
        return isConnected
    }

    private func write(_ bytes: [UInt8]) {
        guard isConnected, !closed else { return }
        var deadline = SystemClock.monotonicNanoseconds() + ioTimeout
        if let exchangeEnd { deadline = min(deadline, exchangeEnd) }
        do throws(SystemError) {
            try Socket.sendAll(descriptor, bytes, deadline: deadline, what: "send")
        } catch {
            isConnected = false
        }
    }

    /// Ends the response (the client reads the end) and closes the connection.
    func close() {
        guard !closed else { return }
        closed = true
        Socket.shutdown(descriptor, reading: false)
        Socket.close(descriptor)
    }
}
