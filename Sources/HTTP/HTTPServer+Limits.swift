extension HTTPServer {
    /// What one client may take of the server. The defaults suit the model server; the metrics
    /// endpoint sets a small cap, eviction and one short deadline for the whole exchange.
    public struct Limits: Sendable {
        /// Connections open at once.
        public var connections = 64
        /// What happens to a connection past the cap.
        public var overflow = Overflow.refuse
        /// Longest request head; a longer one is answered 431.
        public var maximumHeadBytes = 64 << 10
        /// Longest request body; a longer one is answered 413.
        public var maximumBodyBytes = 16 << 20
        /// Bytes of request bodies held in memory at once, across connections; past it, 503.
        public var bodyBudget = 64 << 20
        /// Seconds from accept to receive a whole request (head and body).
        public var requestDeadline: Double = 30
        /// Seconds any one read or write may wait.
        public var ioTimeout: Double = 30
        /// Seconds from accept after which the connection is closed, answered or not; nil: only
        /// `requestDeadline` and `ioTimeout` bound it (a stream may last as long as it flows).
        public var exchangeDeadline: Double?
        /// Whether a client cut off at a deadline is told so (408) or only disconnected.
        public var answersLateRequests = true

        public init() {}
    }

    /// What a connection past the cap gets.
    public enum Overflow: Sendable, Equatable {
        /// Answered 503 and closed: the connections already open go on.
        case refuse
        /// Served, in place of the oldest connection still sending its request, which is closed
        /// unanswered: idle or trickling clients cannot keep a newcomer out. With every connection
        /// already answering, the newcomer is refused.
        case evictOldestReader
    }
}

extension Double {
    /// These seconds in nanoseconds, saturating.
    var nanoseconds: Int64 { Int64(clamping: Int(exactly: (self * 1e9).rounded(.down)) ?? Int.max) }
}
