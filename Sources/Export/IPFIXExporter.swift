public import Posix
#if canImport(Glibc)
import Glibc
#endif
public import Reporting

/// Sends finished flows to an IPFIX collector over UDP or TCP. Used by one thread (the export
/// stage's); a send never waits longer than the socket's one-second timeout.
///
/// UDP: every message stands alone; the templates go out in the first message and again every
/// `templateRefresh` (RFC 7011, 8.4), and in the next message after a send was refused, so a
/// collector started later, or restarted, learns them. TCP: the templates
/// go out once per connection; a lost connection is retried at most every five seconds, and the
/// flows of the meantime are counted as dropped.
public final class IPFIXExporter {
    public enum Transport: String, Sendable, CaseIterable { case udp, tcp }

    public let collector: SocketAddress
    public let transport: Transport
    public var templateRefresh: Int64
    private var encoder: IPFIXEncoder
    private var descriptor: Int32 = -1
    private var lastTemplates: Int64?
    private var nextConnect: Int64 = 0
    /// Flows handed to the collector, flows dropped (no connection, a failed send), and messages sent.
    public private(set) var flowsSent: Int64 = 0
    public private(set) var flowsDropped: Int64 = 0
    public private(set) var messagesSent: Int64 = 0
    /// The last failure, for the log (nil once sending works again).
    public private(set) var lastError: String?

    public init(collector: SocketAddress, transport: Transport, templateRefresh: Int64 = 60_000_000_000, encoder: IPFIXEncoder) throws(ExportError) {
        if case .unix = collector { throw ExportError("ipfix.collector", "IPFIX goes to an IP address and port, not a Unix socket") }
        self.collector = collector
        self.transport = transport
        self.templateRefresh = templateRefresh
        self.encoder = encoder
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Sends the flows; `now` in nanoseconds since the epoch.
    public func send(_ rows: [FlowRow], now: Int64) {
        guard ensureConnected(now: now) else {
            flowsDropped += Int64(rows.count)
            return
        }
        // TCP: once per connection; UDP: again every `templateRefresh`.
        let withTemplates = lastTemplates.map { transport == .udp && now - $0 >= templateRefresh } ?? true
        let exportTime = UInt32(truncatingIfNeeded: now / 1_000_000_000)
        if rows.isEmpty {
            if transport == .udp && withTemplates {
                if write(encoder.templateMessage(exportTime: exportTime)) { lastTemplates = now }
            }
            return
        }
        let messages = encoder.messages(rows, exportTime: exportTime, withTemplates: withTemplates)
        var ok = true
        for (index, message) in messages.enumerated() where ok {
            ok = write(message)
            // UDP has no flow control: a burst of hundreds of datagrams (flows ending together) would
            // overflow a collector's receive buffer, so at most 16 go out per millisecond.
            if transport == .udp && index % 16 == 15 { usleep(1_000) }
        }
        if ok {
            if withTemplates { lastTemplates = now }
            flowsSent += Int64(rows.count)
        } else {
            flowsDropped += Int64(rows.count)
        }
    }

    /// Sends a template refresh when one is due and nothing else was sent (UDP).
    public func tick(now: Int64) { send([], now: now) }

    private func ensureConnected(now: Int64) -> Bool {
        if descriptor >= 0 { return true }
        guard now >= nextConnect else { return false }
        nextConnect = now + 5_000_000_000
        let kind = transport == .udp ? SOCK_DGRAM : SOCK_STREAM
        let operation = "cannot connect to \(collector) over \(transport.rawValue)"
        var failure = SystemError(operation, code: EINVAL)
        let fd = collector.withSockaddr { address, length, family -> Int32 in
            let fd = socket(family, Int32(kind.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                failure = SystemError(operation)
                return -1
            }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if connect(fd, address, length) != 0 {
                failure = SystemError(operation)
                close(fd)
                return -1
            }
            return fd
        }
        guard fd >= 0 else {
            lastError = failure.description
            return false
        }
        descriptor = fd
        lastTemplates = nil  // a new connection (or socket) starts with the templates
        lastError = nil
        return true
    }

    /// Writes one message whole; on failure a TCP connection is dropped (to be retried).
    private func write(_ message: [UInt8]) -> Bool {
        do {
            // The socket's one-second send timeout ends a blocked send with EAGAIN; the deadline
            // then ends the wait there instead of polling on.
            try FileDescriptor.writeAll(
                descriptor, message, to: .socket, what: "sending to \(collector) over \(transport.rawValue)",
                deadline: SystemClock.monotonicNanoseconds() + 1_000_000_000)
        } catch {
            lastError = error.description
            if transport == .tcp {
                close(descriptor)
                descriptor = -1
            } else {
                // A refused datagram means the collector was not there (or restarted): it has lost
                // the templates, so the next message carries them again.
                lastTemplates = nil
            }
            return false
        }
        messagesSent += 1
        lastError = nil
        return true
    }
}
