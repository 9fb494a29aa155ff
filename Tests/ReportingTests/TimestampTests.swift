import Reporting
import Testing

@Suite struct TimestampTests {
    @Test func theEpochIsMidnightOfTheFirstOfJanuary1970() {
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000000Z")
    }

    @Test(arguments: [
        (Int64(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456Z"),
        (1_709_164_800_000_000_000, "2024-02-29T00:00:00.000000Z"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00.000000Z"),
        (4_102_444_799_999_999_000, "2099-12-31T23:59:59.999999Z"),
        (-1_000, "1969-12-31T23:59:59.999999Z"),
    ])
    func knownInstantsPrintAsRFC3339(_ nanoseconds: Int64, _ text: String) {
        #expect(Timestamp.rfc3339(nanoseconds) == text)
    }

    @Test(arguments: [Int64(0), 1_700_000_000_123_456_000, 1_709_164_799_999_999_000, 253_402_300_799_000_000])
    func printedTimesParseBackToThemselves(_ nanoseconds: Int64) {
        #expect(Timestamp.parse(Timestamp.rfc3339(nanoseconds)) == nanoseconds)
    }

    @Test func offsetsAndPrecisionAreHonoured() {
        #expect(Timestamp.parse("2023-11-14T23:13:20+01:00") == 1_700_000_000_000_000_000)
        #expect(Timestamp.parse("2023-11-14T17:13:20-05:00") == 1_700_000_000_000_000_000)
        #expect(Timestamp.parse("2023-11-14T22:13:20.123456789Z") == 1_700_000_000_123_456_789)
        #expect(Timestamp.parse("2023-11-14T22:13:20.5Z") == 1_700_000_000_500_000_000)
        #expect(Timestamp.parse("2023-11-14 22:13:20Z") == 1_700_000_000_000_000_000)
        #expect(Timestamp.parse("2023-11-14T23:59:20+23:59") != nil)
    }

    @Test(arguments: ["", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T25:13:20Z", "2023-11-14T22:13:20.Z",
                      "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Zjunk", "2023-1x-14T22:13:20Z",
                      "2026-11-29T10:00:00+99:99", "2026-11-29T10:00:00+24:00", "2026-11-29T10:00:00-23:60"])
    func malformedTextParsesToNothing(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}

@Suite struct TimestampRangeTests {
    @Test(arguments: ["9999-12-31T00:00:00Z", "2262-04-12T00:00:00Z", "0000-01-01T00:00:00Z", "1677-09-21T00:00:00Z"])
    func aTimeOutsideWhatNanosecondsHoldParsesToNothing(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func theLastRepresentableDayStillParses() {
        #expect(Timestamp.parse("2262-04-11T00:00:00Z") == 9_223_286_400_000_000_000)
    }
}
