import Flows

/// A flow's bytes over its lifetime, for spreading over buckets of time.
public struct FlowSpan: Sendable, Equatable {
    /// The group it belongs to (a program, role or destination).
    public var key: String
    public var start: Int64
    public var end: Int64
    public var bytesOut: Int64
    public var bytesIn: Int64

    public init(key: String, start: Int64, end: Int64, bytesOut: Int64, bytesIn: Int64) {
        self.key = key
        self.start = start
        self.end = end
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
    }
}

/// Bytes of one group per bucket of time: `report --every 1h|1d` and the HTML report's chart.
public struct BucketSeries: Sendable, Equatable {
    public var key: String
    /// Bytes out and in per bucket, one entry per bucket of the window (zeros included).
    public var bytesOut: [Int64]
    public var bytesIn: [Int64]

    public var totalOut: Int64 { bytesOut.reduce(0, +) }
    public var totalIn: Int64 { bytesIn.reduce(0, +) }
    public var total: [Int64] { zip(bytesOut, bytesIn).map { $0 + $1 } }
}

/// Fixed buckets of time from `origin`, each `width` nanoseconds long, and flows spread over them.
///
/// A flow's bytes go to the buckets its lifetime overlaps, in proportion to the overlap (a flow
/// that lasted three hours puts a third in each hour): a flow records only totals, so that is the
/// honest spread. Counts stay whole: what rounding leaves goes to the flow's last bucket.
public struct TimeBuckets: Sendable, Equatable {
    public var origin: Int64
    public var width: Int64
    public var count: Int

    /// The most buckets a report draws: more would be a chart nobody can read, and memory that
    /// follows the window's length instead of the data.
    public static let maximumCount: Int64 = 10_000

    /// Buckets aligned to multiples of `width` since the epoch (whole hours, UTC days), covering
    /// `from`…`to`; nil when that takes more than `maximumCount` buckets.
    public init?(from: Int64, to: Int64, width: Int64) {
        precondition(width > 0, "bucket width must be positive")  // callers parse it from Quantity and refuse 0
        let wanted = TimeBuckets.count(from: from, to: to, width: width)
        guard wanted <= TimeBuckets.maximumCount else { return nil }
        origin = TimeBuckets.floor(from, width)
        count = Int(wanted)
        self.width = width
    }

    /// How many buckets of `width` cover `from`…`to` (at least one), held at `Int64.max` where
    /// the arithmetic would overflow.
    public static func count(from: Int64, to: Int64, width: Int64) -> Int64 {
        let first = floor(from, width), last = floor(max(from, to), width)
        return (last.subtractingSaturating(first) / width).addingSaturating(1)
    }

    public static func floor(_ t: Int64, _ width: Int64) -> Int64 {
        let r = t % width
        return r >= 0 ? t - r : (t - r).subtractingSaturating(width)
    }

    /// The start of bucket `i`.
    public func start(_ i: Int) -> Int64 { origin + Int64(i) * width }

    /// Spreads the spans over the buckets, one series per key, most bytes first.
    public func series(_ spans: [FlowSpan]) -> [BucketSeries] {
        var accumulator = Accumulator(self)
        for s in spans { accumulator.add(s) }
        return accumulator.series
    }

    /// Spans spread as they come (from a database cursor): memory is a series per key.
    public struct Accumulator: Sendable {
        public let buckets: TimeBuckets
        private var byKey: [String: BucketSeries] = [:]

        public init(_ buckets: TimeBuckets) { self.buckets = buckets }

        public mutating func add(_ s: FlowSpan) {
            let count = buckets.count
            var series = byKey.removeValue(forKey: s.key) ?? BucketSeries(
                key: s.key, bytesOut: Array(repeating: 0, count: count), bytesIn: Array(repeating: 0, count: count))
            buckets.spread(s.bytesOut, start: s.start, end: s.end, into: &series.bytesOut)
            buckets.spread(s.bytesIn, start: s.start, end: s.end, into: &series.bytesIn)
            byKey[s.key] = series
        }

        /// One series per key, most bytes first.
        public var series: [BucketSeries] {
            byKey.values.sorted { ($0.totalOut + $0.totalIn, $1.key) > ($1.totalOut + $1.totalIn, $0.key) }
        }
    }

    func spread(_ bytes: Int64, start: Int64, end: Int64, into buckets: inout [Int64]) {
        guard bytes > 0 else { return }
        let windowEnd = origin + Int64(count) * width
        let s = max(start, origin), e = min(max(start, end), windowEnd - 1)
        guard s <= e else { return }  // entirely outside the window
        // A flow ending exactly on a bucket's start has nothing in that bucket.
        let first = Int((s - origin) / width), last = Int((max(s, e - 1) - origin) / width)
        if end <= start {
            buckets[first] += bytes
            return
        }
        let duration = Double(end - start)
        // The part of the flow outside the window is not this window's.
        let inside = min(bytes, Int64((Double(bytes) * Double(e - s) / duration).rounded()))
        if first == last {
            buckets[first] += inside
            return
        }
        var given: Int64 = 0
        for i in first..<last {
            let overlap = min(e, self.start(i + 1)) - max(s, self.start(i))
            let part = Int64((Double(bytes) * Double(overlap) / duration).rounded(.down))
            buckets[i] += part
            given += part
        }
        // What rounding left goes to the last bucket.
        buckets[last] += max(0, inside - given)
    }
}

/// One character per value, eight levels: `▁▂▃▄▅▆▇█`, a space for zero.
public enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    public static func text(_ values: [Int64]) -> String {
        let peak = values.max() ?? 0
        guard peak > 0 else { return String(repeating: " ", count: values.count) }
        return String(values.map { v -> Character in
            if v <= 0 { return " " }
            let level = Int((Double(v) / Double(peak) * Double(levels.count)).rounded(.up)) - 1
            return levels[min(levels.count - 1, max(0, level))]
        })
    }
}

extension GroupRenderer {
    /// `report --every`: a row per group with a sparkline on a terminal, every bucket in JSON and CSV.
    public func render(_ series: [BucketSeries], buckets: TimeBuckets) -> String {
        switch format {
        case .table:
            if series.isEmpty { return "no flows in this window\n" }
            let first = Timestamp.local(buckets.start(0)), last = Timestamp.local(buckets.start(buckets.count - 1))
            var out = "\(buckets.count) buckets of \(GroupRenderer.widthText(buckets.width)) from \(first) to \(last) (last bucket start)\n"
            var rows: [[String]] = []
            for s in series {
                let peak = zip(s.bytesOut, s.bytesIn).map { $0 + $1 }.max() ?? 0
                rows.append([
                    Sanitizer.clean(s.key), ByteCount.text(s.totalOut), ByteCount.text(s.totalIn), ByteCount.text(peak),
                    "|" + Sparkline.text(s.total) + "|",
                ])
            }
            out += TextTable(
                headers: [groupTitle.uppercased(), "OUT", "IN", "PEAK", "BYTES PER \(GroupRenderer.widthText(buckets.width).uppercased())"],
                rows: rows, rightAligned: [1, 2, 3], terminal: terminal, terminalWidth: 100_000
            ).render()
            return out
        case .csv:
            var out = "group,bucket_start,bytes_out,bytes_in\n"
            for s in series {
                for i in 0..<buckets.count {
                    out += [Sanitizer.clean(s.key), Timestamp.rfc3339(buckets.start(i)), String(s.bytesOut[i]), String(s.bytesIn[i])]
                        .map(FlowRow.csvQuote).joined(separator: ",") + "\n"
                }
            }
            return out
        case .zeek, .zeekJSON:
            // Zeek's layouts list flows; `report` refuses them with --every before rendering.
            return ""
        case .json, .ndjson:
            return JSONWriter.list(series, ndjson: format == .ndjson) { s, w in
                w.beginObject()
                w.key("group"); w.string(s.key)
                w.key("bucket_seconds"); w.int(buckets.width / 1_000_000_000)
                w.key("bytes_out"); w.int(s.totalOut)
                w.key("bytes_in"); w.int(s.totalIn)
                w.key("buckets"); w.beginArray()
                for i in 0..<buckets.count {
                    w.beginObject()
                    w.key("start"); w.string(Timestamp.rfc3339(buckets.start(i)))
                    w.key("bytes_out"); w.int(s.bytesOut[i])
                    w.key("bytes_in"); w.int(s.bytesIn[i])
                    w.endObject()
                }
                w.endArray()
                w.endObject()
            }
        }
    }

    /// `1h`, `1d`, `15m`, `30s`.
    public static func widthText(_ width: Int64) -> String {
        let s = width / 1_000_000_000
        if s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s % 3_600 == 0 { return "\(s / 3_600)h" }
        if s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }
}

/// Bucket lengths for a chart over a window.
public enum HTMLReportBuckets {
    static let widths: [Int64] = [60, 300, 900, 3_600, 6 * 3_600, 86_400, 7 * 86_400].map { $0 * 1_000_000_000 }

    /// The shortest round length (1m, 5m, 15m, 1h, 6h, 1d, 1w) giving at most about 48 buckets.
    public static func roundWidth(for span: Int64) -> Int64 {
        widths.first { span / $0 <= 48 } ?? widths[widths.count - 1]
    }
}
