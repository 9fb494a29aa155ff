import Synchronization

/// A bounded hand-off from the capture thread to the store writer. When full, new items are
/// dropped and counted — never silently, never blocking capture.
public final class HandOff<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var dropped: Int64 = 0
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds what fits; returns how many were dropped.
    @discardableResult
    public func push(_ items: [Item]) -> Int {
        state.withLock { s in
            let room = max(0, capacity - s.items.count)
            let accepted = min(room, items.count)
            s.items.append(contentsOf: items.prefix(accepted))
            let dropped = items.count - accepted
            s.dropped += Int64(dropped)
            return dropped
        }
    }

    /// Takes everything waiting.
    public func take() -> [Item] {
        state.withLock { s in
            // Hand the buffer over whole: keeping its capacity would pin the largest burst's memory.
            let items = s.items
            s.items = []
            return items
        }
    }

    /// Takes up to `limit` items, oldest first; the rest wait for the next call.
    public func take(limit: Int) -> [Item] {
        state.withLock { s in
            guard s.items.count > limit else {
                let items = s.items
                s.items = []
                return items
            }
            let items = Array(s.items.prefix(limit))
            s.items.removeFirst(limit)
            return items
        }
    }

    /// Items dropped since the start.
    public var dropped: Int64 { state.withLock { $0.dropped } }

    public var count: Int { state.withLock { $0.items.count } }
}
