#if canImport(Glibc)
import Glibc
#endif

/// The clocks the monitor reads, in nanoseconds.
///
/// The capture's packet timestamps are wall-clock time, so flows, events and alerts use
/// `wallNanoseconds()`; rate limits, retries and deadlines use `monotonicNanoseconds()`, which a
/// clock change cannot move. The corresponding C function is `clock_gettime`.
public enum SystemClock {
    /// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
    public static func wallNanoseconds() -> Int64 { read(CLOCK_REALTIME) }

    /// Nanoseconds since an arbitrary point before this boot's first reading (`CLOCK_MONOTONIC`).
    public static func monotonicNanoseconds() -> Int64 { read(CLOCK_MONOTONIC) }

    /// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`), for benchmarks.
    public static func threadCPUNanoseconds() -> Int64 { read(CLOCK_THREAD_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Int64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
