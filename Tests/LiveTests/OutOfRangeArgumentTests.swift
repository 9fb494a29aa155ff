import Testing

/// Durations, times and counts too large for nanoseconds are refused with a message, never a trap.
@Suite(.enabled(if: TelltaleBinary.path != nil, "the telltale executable is not built next to the tests"))
struct OutOfRangeArgumentTests {
    static func run(_ arguments: [String]) throws -> Shell.Result {
        let binary = try #require(TelltaleBinary.path)
        return try Shell.run(["timeout", "20", binary] + arguments)
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
