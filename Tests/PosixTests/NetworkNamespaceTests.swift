import Foundation
import Posix
import Testing

@Suite struct NetworkNamespaceTests {
    /// The inode of the calling thread's network namespace.
    static func currentNamespace() -> UInt64 {
        var info = stat()
        guard stat("/proc/thread-self/ns/net", &info) == 0 else { return 0 }
        return UInt64(info.st_ino)
    }

    @Test func aMissingNamespaceIsRefusedBeforeTheBodyRuns() {
        var ran = false
        #expect(throws: SystemError("open /run/netns/tt-missing-\(getpid())", code: ENOENT)) {
            try NetworkNamespace.run(in: "/run/netns/tt-missing-\(getpid())") { ran = true }
        }
        #expect(!ran)
    }

    @Test(.enabled(if: geteuid() == 0 && ChildProcess.find("unshare") != nil, "needs root and unshare(1)"))
    func theBodyRunsInsideAndTheThreadComesBackToItsOwnNamespace() throws {
        let home = Self.currentNamespace()
        let child = try ChildProcess(["unshare", "--net", "sleep", "30"])
        defer {
            kill(child.pid, SIGKILL)
            _ = child.wait()
        }
        // unshare makes the namespace, then becomes sleep: wait until the child's is no longer ours.
        let path = "/proc/\(child.pid)/ns/net"
        var target = stat()
        let deadline = SystemClock.monotonicNanoseconds() + 5_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            if stat(path, &target) == 0 && UInt64(target.st_ino) != home { break }
            usleep(10_000)
        }
        #expect(UInt64(target.st_ino) != home)
        let inside = try NetworkNamespace.run(in: path) { Self.currentNamespace() }
        #expect(inside == UInt64(target.st_ino))
        #expect(Self.currentNamespace() == home)
    }
}
