#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A one-shot "stop now" that a signal handler or another thread triggers and that the capture
/// loop polls alongside its pcap descriptors, so an idle capture stops at once.
public final class StopSignal: Sendable {
    /// The read end of a pipe; it becomes readable when triggered.
    public let descriptor: Int32
    private let writeEnd: Int32
    private let triggered = Atomic<Bool>(false)

    public init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
        }
        descriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    public var isTriggered: Bool { triggered.load(ordering: .acquiring) }

    /// Requests a stop. Async-signal-safe apart from the atomic store and `write`.
    public func trigger() {
        triggered.store(true, ordering: .releasing)
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }
}
