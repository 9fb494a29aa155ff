import Foundation
import Posix
import Testing

/// The signals 1 to 31 set in a `/proc/PID/status` signal field (SigIgn, SigBlk), or nil when it is
/// missing. Signals 32 and 33 belong to glibc (thread cancellation, setxid); no program sets them.
func standardSignals(in lines: [String], field: String) -> UInt64? {
    guard let line = lines.first(where: { $0.hasPrefix(field + ":") }),
        let mask = UInt64(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
    else { return nil }
    return mask & 0x7fff_ffff
}

@Suite(.serialized) struct ChildProcessTests {
    /// Runs `body` with SIGINT and SIGTERM ignored and SIGUSR1 blocked in this thread, as the daemon
    /// has them while it runs, and one descriptor open without close-on-exec; restores all after.
    static func withDaemonLikeState<T>(_ body: (_ leaked: Int32) throws -> T) rethrows -> T {
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousTerminate = signal(SIGTERM, SIG_IGN)
        var blocked = sigset_t(), previousMask = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &blocked, &previousMask)
        let leaked = open("/dev/null", O_RDONLY)
        defer {
            close(leaked)
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
            signal(SIGINT, previousInterrupt)
            signal(SIGTERM, previousTerminate)
        }
        return try body(leaked)
    }

    @Test func aChildStartsWithDefaultSignalsAndOnlyItsStandardDescriptors() throws {
        let text = try Self.withDaemonLikeState { leaked -> String in
            #expect(leaked > 2)
            // grep reports its own mask and dispositions as it got them; a shell would change the mask.
            let status = try ChildProcess(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"], output: .pipe)
            let statusText = status.readOutput()
            #expect(status.wait() == 0)
            let descriptors = try ChildProcess(["sh", "-c", "ls /proc/$$/fd"], output: .pipe)
            let descriptorText = descriptors.readOutput()
            #expect(descriptors.wait() == 0)
            return String(decoding: statusText + descriptorText, as: UTF8.self)
        }
        let lines = text.split(separator: "\n").map(String.init)
        #expect(standardSignals(in: lines, field: "SigIgn") == 0, "\(text)")
        #expect(standardSignals(in: lines, field: "SigBlk") == 0, "\(text)")
        #expect(lines.filter { Int($0) != nil }.sorted() == ["0", "1", "2"], "\(text)")
    }

    @Test func theExitStatusIsTheProgramsOrOneHundredTwentyEightPlusItsSignal() throws {
        #expect(try ChildProcess(["sh", "-c", "exit 3"]).wait() == 3)
        #expect(try ChildProcess(["sh", "-c", "kill -TERM $$"]).wait() == 128 + SIGTERM)
    }

    @Test func aProgramThatCannotBeFoundIsAnErrorNamingIt() {
        do {
            _ = try ChildProcess(["tt-no-such-program"])
            Issue.record("a missing program started")
        } catch {
            #expect(error.code == ENOENT)
            #expect(error.description.hasPrefix("cannot start tt-no-such-program: "))
        }
    }

    @Test func runGivesTheInputAndKillsAProgramAtItsTimeLimit() throws {
        let path = NSTemporaryDirectory() + "tt-child-\(UUID().uuidString)"
        defer { unlink(path) }
        #expect(ChildProcess.run(["sh", "-c", "cat > \"$0\"", path], input: "hello\n", timeout: 10) == 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello\n")
        let started = SystemClock.monotonicNanoseconds()
        #expect(ChildProcess.run(["sleep", "30"], input: "", timeout: 0.2) == nil)
        #expect(SystemClock.monotonicNanoseconds() - started < 5_000_000_000)
    }

    @Test func aProgramThatNeverReadsDoesNotBlockRun() {
        let large = String(repeating: "x", count: 1 << 20)
        #expect(ChildProcess.run(["sh", "-c", "exit 0"], input: large, timeout: 5) == 0)
    }
}
