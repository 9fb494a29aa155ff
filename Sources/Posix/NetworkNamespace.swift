import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A named network namespace (`ip netns add lab` makes `/run/netns/lab`) that a thread steps into
/// for a moment: a socket stays in the namespace it was made in, so a capture opened there keeps
/// seeing that namespace's interfaces after the thread has returned to its own.
public enum NetworkNamespace {
    /// Runs `body` on the calling thread inside the network namespace at `path`, then returns the
    /// thread to the namespace it was in. Fails, before `body` runs, when either namespace cannot
    /// be opened or entered.
    ///
    /// The corresponding C function is `setns`.
    public static func run<Value>(in path: String, _ body: () -> Value) throws(SystemError) -> Value {
        let home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw SystemError("open /proc/self/ns/net") }
        defer { close(home) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw SystemError("open \(path)") }
        defer { close(target) }
        guard telltale_enter_network_namespace(target) == 0 else { throw SystemError("enter \(path)") }
        // setns back into our own namespace with its descriptor open cannot fail short of a kernel bug.
        defer { _ = telltale_enter_network_namespace(home) }
        return body()
    }
}
