import Reporting
import Testing

@Suite struct TimestampTests {
    @Test func theEpochIsMidnightOfTheFirstOfJanuary1970() {
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000000Z")
    }
}
