import Foundation
import Reporting
import Testing
@testable import Alerting

@Suite(.serialized) struct CommandSinkTests {
    @Test func aHookStartsWithDefaultSignalsAndNoInheritedDescriptors() throws {
        let path = NSTemporaryDirectory() + "tt-hook-\(UUID().uuidString)"
        defer { unlink(path) }
        // As in the daemon: SIGINT and SIGTERM ignored (they are handled through signal sources)
        // and a descriptor open without close-on-exec.
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousTerminate = signal(SIGTERM, SIG_IGN)
        let leaked = open("/dev/null", O_RDONLY)
        defer {
            close(leaked)
            signal(SIGINT, previousInterrupt)
            signal(SIGTERM, previousTerminate)
        }
        let script = "exec > \"$0\"; grep SigIgn /proc/self/status; ls /proc/$$/fd"
        let sink = CommandSink(arguments: ["sh", "-c", script, path])
        #expect(sink.deliver(sampleAlert(time: 0), json: "{}"))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        // Signals 1 to 31 at their defaults (32 and 33 belong to glibc; no program sets them).
        let ignored = lines.first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
        #expect(ignored.map { $0 & 0x7fff_ffff } == 0, "\(lines)")
        #expect(ignored.map { $0 & (1 << (UInt64(SIGINT) - 1) | 1 << (UInt64(SIGTERM) - 1)) } == 0, "SIGINT and SIGTERM: \(lines)")
        #expect(lines.filter { Int($0) != nil }.sorted() == ["0", "1", "2"], "\(lines)")
        #expect(leaked > 2)
    }
}
