#if canImport(Glibc)
import Glibc
#endif

/// A command started with `posix_spawn`, with default signal handling and mask (a parent's blocked
/// signals must not leak into it), optionally with its standard output in a pipe.
public final class ChildProcess {
    public let pid: Int32
    private var outputDescriptor: Int32 = -1

    public struct SpawnError: Error, CustomStringConvertible {
        public var command: String
        public var message: String
        public var description: String { "cannot start \(command): \(message)" }
    }

    /// Starts `arguments[0]` (searched in PATH) with the rest as its arguments.
    public init(_ arguments: [String], captureOutput: Bool = false) throws(SpawnError) {
        guard let program = arguments.first else { throw SpawnError(command: "", message: "no command given") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pipeEnds: [Int32] = [-1, -1]
        if captureOutput {
            guard pipe(&pipeEnds) == 0 else { throw SpawnError(command: program, message: String(cString: strerror(errno))) }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
            posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var child: Int32 = 0
        let status = posix_spawnp(&child, program, &actions, &attributes, &cArguments, environ)
        if captureOutput { close(pipeEnds[1]) }
        guard status == 0 else {
            if captureOutput { close(pipeEnds[0]) }
            throw SpawnError(command: program, message: String(cString: strerror(status)))
        }
        pid = child
        outputDescriptor = captureOutput ? pipeEnds[0] : -1
    }

    /// Reads the child's standard output to its end (only with `captureOutput`).
    public func readOutput() -> [UInt8] {
        guard outputDescriptor >= 0 else { return [] }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(outputDescriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data += buffer[0..<count]
        }
        close(outputDescriptor)
        outputDescriptor = -1
        return data
    }

    /// Waits for the child to end; returns its exit status (128 + signal when killed).
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }
}
