import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program with text on its standard input and a time limit; the program is killed when the
/// limit passes. Standard output goes to /dev/null, standard error is inherited.
enum ChildProcess {
    /// Exit status, or nil when it could not start or was killed at the time limit.
    static func run(_ arguments: [String], input: String, timeout: Double, environment: [String]? = nil) -> Int32? {
        guard let program = arguments.first else { return nil }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[0], 0)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let env = (environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }).map { strdup($0) } + [nil]
        defer { for p in env { free(p) } }
        let spawned = program.contains("/")
            ? posix_spawn(&pid, program, &actions, nil, argv, env)
            : posix_spawnp(&pid, program, &actions, nil, argv, env)
        close(pipeEnds[0])
        guard spawned == 0 else {
            close(pipeEnds[1])
            return nil
        }
        // A child that never reads must not block us: write what fits without blocking.
        _ = fcntl(pipeEnds[1], F_SETFL, fcntl(pipeEnds[1], F_GETFL) | O_NONBLOCK)
        signal(SIGPIPE, SIG_IGN)
        let bytes = Array(input.utf8)
        var offset = 0
        let deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count && Date() < deadline {
            let n = bytes.withUnsafeBytes { write(pipeEnds[1], $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n > 0 { offset += n } else if errno == EAGAIN { usleep(5_000) } else { break }
        }
        close(pipeEnds[1])
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return nil }
            if Date() >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return nil
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }

    /// The full path of a program found in PATH (or the usual directories), or nil.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
