import Reporting
import Testing

@Suite struct QuantityTests {
    @Test(arguments: [
        ("500ms", Int64(500_000_000)), ("30s", 30_000_000_000), ("5m", 300_000_000_000), ("2h", 7_200_000_000_000),
        ("7d", 604_800_000_000_000), ("1w", 604_800_000_000_000), ("1.5", 1_500_000_000), (" 2s ", 2_000_000_000),
        ("106751d", 9_223_286_400_000_000_000),
    ])
    func durationsInEveryUnitBecomeNanoseconds(_ text: String, _ nanoseconds: Int64) throws {
        #expect(try Quantity.duration(text) == nanoseconds)
    }

    @Test(arguments: ["9999999h", "106752d", "1e300s", "99999999999999999999"])
    func aDurationBeyondWhatNanosecondsHoldIsRefusedWithItsLimit(_ text: String) {
        #expect(throws: QuantityError.tooLarge(text, kind: .duration)) { try Quantity.duration(text) }
        #expect(QuantityError.tooLarge(text, kind: .duration).description.contains("106751d"))
    }

    @Test(arguments: ["infs", "inf", "nanh", "-infd", "NaN"])
    func anInfiniteOrNaNDurationIsRefused(_ text: String) {
        #expect(throws: QuantityError.notFinite(text, kind: .duration)) { try Quantity.duration(text) }
    }

    @Test func aNegativeOrWordyDurationIsRefusedAndTheMessageShowsTheForm() {
        #expect(throws: QuantityError.negative("-5m", kind: .duration)) { try Quantity.duration("-5m") }
        #expect(throws: QuantityError.malformed("soon", kind: .duration)) { try Quantity.duration("soon") }
        #expect(QuantityError.malformed("soon", kind: .duration).description == "'soon' is not a duration such as 500ms, 30s, 5m, 2h or 7d")
    }

    /// `Double` reads hexadecimal and hex floats; a quantity is decimal, as the messages show.
    @Test(arguments: ["0x10", "0x10s", "0x1p4", "0X10m"])
    func hexadecimalIsNotADuration(_ text: String) {
        #expect(throws: QuantityError.malformed(text, kind: .duration)) { try Quantity.duration(text) }
    }

    @Test func aDurationWithinARangeSaysTheRangeInTheUnitsPeopleWrite() throws {
        #expect(try Quantity.duration("1h", within: 10_000_000...3_600_000_000_000) == 3_600_000_000_000)
        #expect(throws: QuantityError.outOfRange("2h", lower: 10_000_000, upper: 3_600_000_000_000)) {
            try Quantity.duration("2h", within: 10_000_000...3_600_000_000_000)
        }
        #expect(QuantityError.outOfRange("2h", lower: 10_000_000, upper: 3_600_000_000_000).description
            == "'2h' is outside 10ms to 1h, what this setting takes")
        #expect(Quantity.durationText(90_000_000_000) == "90s")
        #expect(Quantity.durationText(1_500_000_000) == "1500ms")
        #expect(Quantity.durationText(7 * 86_400_000_000_000) == "1w")
    }

    @Test(arguments: [
        ("512MiB", Int64(536_870_912)), ("2GB", 2_000_000_000), ("100k", 102_400), ("1.5KiB", 1536), ("4096", 4096),
        ("1000TiB", 1_099_511_627_776_000),
    ])
    func sizesInEveryUnitBecomeBytes(_ text: String, _ bytes: Int64) throws {
        #expect(try Quantity.size(text) == bytes)
    }

    @Test func anInfiniteHugeOrNegativeSizeIsRefused() {
        #expect(throws: QuantityError.notFinite("infGiB", kind: .size)) { try Quantity.size("infGiB") }
        #expect(throws: QuantityError.notFinite("nanB", kind: .size)) { try Quantity.size("nanB") }
        #expect(throws: QuantityError.tooLarge("9999999TiB", kind: .size)) { try Quantity.size("9999999TiB") }
        #expect(throws: QuantityError.tooLarge("99999999999999999999", kind: .size)) { try Quantity.size("99999999999999999999") }
        #expect(throws: QuantityError.negative("-1MiB", kind: .size)) { try Quantity.size("-1MiB") }
        #expect(throws: QuantityError.malformed("lots", kind: .size)) { try Quantity.size("lots") }
    }

    @Test func secondsGivenAsANumberAreCheckedLikeADuration() throws {
        #expect(try Quantity.nanoseconds(seconds: 2.5) == 2_500_000_000)
        #expect(throws: QuantityError.notFinite("inf", kind: .duration)) { try Quantity.nanoseconds(seconds: .infinity) }
        #expect(throws: QuantityError.notFinite("nan", kind: .duration)) { try Quantity.nanoseconds(seconds: .nan) }
        #expect(throws: QuantityError.tooLarge("1e+300", kind: .duration)) { try Quantity.nanoseconds(seconds: 1e300) }
        #expect(throws: QuantityError.negative("-1.0", kind: .duration)) { try Quantity.nanoseconds(seconds: -1) }
    }
}
