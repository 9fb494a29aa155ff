public import Flows
public import PacketParsing
import Synchronization

/// The packet path's hand-off to content inspection: a copy of each payload, bounded by bytes.
///
/// Only in use when content inspection is on (the person asked for it): then every TCP and UDP
/// payload the capture kept is copied here, on the capture thread, and inspected on another. When
/// the budget is spent, payloads are dropped and counted (`content_dropped`), and the flows they
/// belonged to say `not-inspected` rather than pretend to have been read.
public final class ContentTap: Sendable {
    /// One payload as captured.
    public struct Segment: Sendable {
        public var key: FlowKey
        public var source: IPAddress
        public var destination: IPAddress
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public var ipProtocol: UInt8
        /// The TCP sequence number of the first byte (nil for UDP, or when the header could not be found).
        public var sequence: UInt32?
        public var tcpFlags: UInt8
        /// The payload's length as the headers declare it; `bytes` may hold less (a trimmed capture).
        public var declaredLength: Int
        public var time: Int64
        /// The flow's owner as the capture thread knew it then.
        public var owner: ProcessKey?
        public var bytes: [UInt8]
    }

    private struct State {
        var segments: [Segment] = []
        var bytes = 0
        var droppedBytes: Int64 = 0
        var droppedFlows: Set<FlowKey> = []
    }

    private let state = Mutex(State())
    /// Payload bytes waiting at most (default 64 MiB).
    public let byteBudget: Int

    public init(byteBudget: Int = 64 << 20) {
        self.byteBudget = byteBudget
    }

    /// Called on the capture thread for a decoded packet that carries payload.
    func push(_ packet: PacketSummary, key: FlowKey, frame: UnsafeRawBufferPointer, sequence: UInt32?, owner: ProcessKey?) {
        let start = packet.payloadOffset
        guard start >= 0, start <= frame.count else { return }
        let captured = min(packet.payloadLength, frame.count - start)
        // The copy is made before the lock (one lock per payload); one over the budget is dropped.
        let segment = Segment(
            key: key, source: packet.source, destination: packet.destination, sourcePort: packet.sourcePort,
            destinationPort: packet.destinationPort, ipProtocol: packet.ipProtocol, sequence: sequence,
            tcpFlags: packet.tcpFlags, declaredLength: packet.payloadLength, time: packet.timestamp, owner: owner,
            bytes: Array(UnsafeRawBufferPointer(rebasing: frame[start..<(start + captured)])))
        state.withLock { s in
            guard s.bytes + captured <= byteBudget else {
                s.droppedBytes += Int64(packet.payloadLength)
                if s.droppedFlows.count < 100_000 { s.droppedFlows.insert(key) }
                return
            }
            s.bytes += captured
            s.segments.append(segment)
        }
    }

    /// Takes every waiting segment, and the flows whose payload was dropped since the last call.
    func take() -> (segments: [Segment], droppedFlows: Set<FlowKey>) {
        state.withLock { s in
            let taken = (s.segments, s.droppedFlows)
            s.segments = []
            s.bytes = 0
            s.droppedFlows = []
            return taken
        }
    }

    /// Payload bytes dropped since the start because inspection fell behind.
    public var droppedBytes: Int64 { state.withLock { $0.droppedBytes } }
}
