import Foundation
import Posix
import Testing

@Suite struct SystemClockTests {
    @Test func wallClockNanosecondsAgreeWithFoundationsDate() {
        let date = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        #expect(abs(SystemClock.wallNanoseconds() - date) < 1_000_000_000)
    }

    @Test func theMonotonicClockNeverGoesBackAndMeasuresASleep() {
        let before = SystemClock.monotonicNanoseconds()
        usleep(20_000)
        let after = SystemClock.monotonicNanoseconds()
        #expect(after - before >= 20_000_000)
    }
}
