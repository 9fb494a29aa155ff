import Testing
import TestSupport

/// Durations, times and counts too large for nanoseconds are refused with a message, never a trap.
@Suite(.enabled(if: BuiltExecutable.path("telltale") != nil, "the telltale executable is not built next to the tests"))
struct OutOfRangeArgumentTests {
    static func run(_ arguments: [String]) throws -> TestProcess.Outcome {
        try TestProcess.run(["timeout", "20", try BuiltExecutable.require("telltale")] + arguments)
    }

    @Test(arguments: [
        (["report", "--since", "106752d"], "106751d"),
        (["alerts", "--since", "9999999h"], "106751d"),
        (["report", "--from", "9999-12-31"], "2262"),
        (["alerts", "--to", "9999-12-31T00:00:00Z"], "2262"),
        (["capture", "--duration", "1e400"], "--duration"),
        (["capture", "--duration", "nan"], "--duration"),
        (["capture", "--active-timeout", "1e300"], "--active-timeout"),
        (["daemon", "--flush-interval", "9999999h"], "106751d"),
    ])
    func anOverflowingDurationOrTimeIsAUsageErrorThatSaysWhy(_ arguments: [String], _ mentioned: String) throws {
        let result = try Self.run(arguments + ["--db", "/nonexistent/telltale-test.db"])
        // 64 is ArgumentParser's usage error; a trap would be a signal (status 132 or 133 through timeout).
        #expect(result.status == 64, "\(arguments): status \(result.status): \(result.error)")
        #expect(result.error.contains(mentioned), "\(result.error)")
    }
}
