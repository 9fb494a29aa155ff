public import Reporting
import Flows

extension TimeWindow {
    /// A time as a person gives it: RFC 3339 (`2026-11-29T10:00:00Z`), a date (its midnight, UTC),
    /// or a duration back from `now` (`2h`); nil for anything else.
    public static func time(_ text: String, now: Int64) -> Int64? {
        if let exact = Timestamp.parse(text) { return exact }
        if text.count == 10, let midnight = Timestamp.parse(text + "T00:00:00Z") { return midnight }
        // Both are at least zero, so the difference cannot overflow.
        if let ago = try? Quantity.duration(text) { return now.subtractingSaturating(ago) }
        return nil
    }

    /// The window `--since`, `--from` and `--to` give (each optional; `time(_:now:)` reads the last two).
    public init(since: String?, from: String?, to: String?, now: Int64) {
        self.init()
        if let since, let d = try? Quantity.duration(since) { self.from = now.subtractingSaturating(d) }
        if let from { self.from = TimeWindow.time(from, now: now) }
        if let to { self.to = TimeWindow.time(to, now: now) }
    }

    /// The last `duration` up to now, open at its end.
    public static func last(_ duration: Int64, now: Int64) -> TimeWindow {
        TimeWindow(from: now.subtractingSaturating(duration))
    }

    /// This window, or when it has no start, the last `count` buckets of `width` (the current one among them).
    public func startingAtLeast(_ count: Int64, bucketsOf width: Int64, now: Int64) -> TimeWindow {
        guard from == nil else { return self }
        return TimeWindow(from: now.subtractingSaturating(width.multipliedSaturating(by: count - 1)), to: to)
    }
}

/// A report over more buckets than it draws, even narrowed to the flows in its window.
public struct TooManyBuckets: Error, CustomStringConvertible {
    public var wanted: Int64
    /// The time the window's flows span, nanoseconds.
    public var span: Int64
    public var width: Int64

    public var description: String {
        let spanText = span >= 86_400_000_000_000 ? Count.text(span / 86_400_000_000_000, "day") : Count.text(span / 3_600_000_000_000, "hour")
        return "--every \(Quantity.durationText(width)) over the \(spanText) "
            + "of flows in this window makes \(wanted) buckets, more than the \(TimeBuckets.maximumCount) a report draws: "
            + "give a longer --every, or a shorter --since or --from"
    }
}

extension FlowStore {
    /// The buckets of `from`…`to`. A window of more buckets than a report draws is narrowed to the
    /// flows in it (memory follows the data, not the window's length); if the flows themselves
    /// need more, `TooManyBuckets` says what to change.
    public func buckets(in window: TimeWindow, from: Int64, to: Int64, width: Int64) throws -> TimeBuckets {
        if let buckets = TimeBuckets(from: from, to: to, width: width) { return buckets }
        var first = from, last = to
        if let extent = try extent(in: window) {
            first = max(from, extent.first)
            last = min(to, max(extent.first, extent.last))
        } else {
            first = max(from, to.subtractingSaturating(width))
        }
        if let buckets = TimeBuckets(from: first, to: last, width: width) { return buckets }
        throw TooManyBuckets(
            wanted: TimeBuckets.count(from: first, to: last, width: width), span: last.subtractingSaturating(first), width: width)
    }

    /// What the HTML report's chart spans: the window, its open ends closed by its flows and `now`
    /// (an hour back when it holds none). A window longer than the chart's longest round bucket can
    /// show (48 weeks) starts with its first flow: one reaching back centuries draws the time that
    /// holds flows.
    public func chartSpan(of window: TimeWindow, now: Int64) throws(StoreError) -> (from: Int64, to: Int64) {
        let extent = try extent(in: window)
        var from = window.from ?? extent?.first ?? now.subtractingSaturating(3_600_000_000_000)
        if let first = extent?.first, now.subtractingSaturating(from) > 48 * 7 * 86_400_000_000_000 { from = max(from, first) }
        let to = window.to ?? max(from.addingSaturating(1), min(now, extent?.last ?? now))
        return (from, to)
    }

    /// A round bucket width giving about 48 bars over `from`…`to`.
    public static func chartWidth(from: Int64, to: Int64) -> Int64 { HTMLReportBuckets.roundWidth(for: to.subtractingSaturating(from)) }
}
