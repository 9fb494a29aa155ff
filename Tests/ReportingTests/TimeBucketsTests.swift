import Reporting
import Testing

@Suite struct TimeBucketsTests {
    static let hour: Int64 = 3_600_000_000_000

    @Test func bucketsAlignToWholeHoursAndCoverTheWindow() throws {
        let b = try #require(TimeBuckets(from: 10 * Self.hour + 123, to: 13 * Self.hour + 5, width: Self.hour))
        #expect(b.origin == 10 * Self.hour)
        #expect(b.count == 4)
        #expect(b.start(3) == 13 * Self.hour)
    }

    @Test func aLongFlowIsSpreadByOverlapAndNothingIsLost() throws {
        let b = try #require(TimeBuckets(from: 0, to: 4 * Self.hour - 1, width: Self.hour))
        // 3,000,001 bytes over 90 minutes from 0:30: a third in 0h, two thirds in 1h.
        let spans = [
            FlowSpan(key: "a", start: Self.hour / 2, end: 2 * Self.hour, bytesOut: 3_000_001, bytesIn: 0),
            FlowSpan(key: "a", start: 3 * Self.hour + 5, end: 3 * Self.hour + 5, bytesOut: 7, bytesIn: 9),
            FlowSpan(key: "b", start: 0, end: 10, bytesOut: 0, bytesIn: 1),
        ]
        let series = b.series(spans)
        #expect(series.map(\.key) == ["a", "b"])
        #expect(series[0].bytesOut == [1_000_000, 2_000_001, 0, 7])
        #expect(series[0].bytesIn == [0, 0, 0, 9])
        #expect(series[0].totalOut == 3_000_008)
        #expect(series[1].total == [1, 0, 0, 0])
    }

    @Test func onlyTheWindowsShareOfAFlowIsCounted() throws {
        let b = try #require(TimeBuckets(from: 2 * Self.hour, to: 3 * Self.hour - 1, width: Self.hour))
        // Four hours long, one of them inside the window.
        let s = b.series([FlowSpan(key: "k", start: 0, end: 4 * Self.hour, bytesOut: 400, bytesIn: 0)])
        #expect(s[0].bytesOut == [100])
    }

    @Test func sparklinesScaleToThePeak() {
        #expect(Sparkline.text([0, 1, 4, 8]) == " ▁▄█")
        #expect(Sparkline.text([0, 0]) == "  ")
        #expect(Sparkline.text([5]) == "█")
    }

    @Test func everyFormatCarriesEveryBucket() throws {
        let b = try #require(TimeBuckets(from: 0, to: 2 * Self.hour - 1, width: Self.hour))
        let series = b.series([FlowSpan(key: "/usr/bin/a,\"b\"", start: 0, end: 0, bytesOut: 2048, bytesIn: 1)])
        let table = GroupRenderer(format: .table, terminal: false, groupTitle: "process").render(series, buckets: b)
        #expect(table.contains("2 buckets of 1h"))
        #expect(table.contains("|█ |"))
        let csv = GroupRenderer(format: .csv, terminal: false, groupTitle: "process").render(series, buckets: b)
        #expect(csv.split(separator: "\n").count == 3)
        #expect(csv.contains("\"/usr/bin/a,\"\"b\"\"\",1970-01-01T00:00:00"))
        let json = GroupRenderer(format: .json, terminal: false, groupTitle: "process").render(series, buckets: b)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        let buckets = try #require(parsed[0]["buckets"] as? [[String: Any]])
        #expect(buckets.count == 2 && buckets[0]["bytes_out"] as? Int == 2048 && buckets[1]["bytes_out"] as? Int == 0)
        #expect(parsed[0]["bucket_seconds"] as? Int == 3600)
    }

    @Test func chartBucketsAreRoundAndFew() {
        #expect(HTMLReportBuckets.roundWidth(for: 30 * 60_000_000_000) == 60_000_000_000)
        #expect(HTMLReportBuckets.roundWidth(for: 24 * Self.hour) == Self.hour)
        #expect(HTMLReportBuckets.roundWidth(for: 7 * 24 * Self.hour) == 6 * Self.hour)
    }

    /// Edges near the ends of time do not overflow, and a window of more buckets than a report
    /// draws is refused instead of allocated.
    @Test func bucketsNearTheEndsOfTimeAreCountedWithoutOverflowAndCapped() throws {
        let day: Int64 = 86_400_000_000_000
        #expect(TimeBuckets.count(from: Int64.min + 5, to: Int64.max - 5, width: 60_000_000_000) > TimeBuckets.maximumCount)
        #expect(TimeBuckets(from: Int64.min + 5, to: Int64.max - 5, width: day) == nil)
        #expect(TimeBuckets(from: 0, to: 106_751 * day, width: 36_500 * day)?.count == 3)
        #expect(TimeBuckets(from: 0, to: (TimeBuckets.maximumCount - 1) * Self.hour, width: Self.hour)?.count == Int(TimeBuckets.maximumCount))
        #expect(TimeBuckets(from: 0, to: TimeBuckets.maximumCount * Self.hour, width: Self.hour) == nil)
    }
}

import Foundation
