import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A program started with `posix_spawn`, clean of what its parent happened to hold.
///
/// The child starts with an empty signal mask and every signal at its default disposition (the
/// daemon ignores SIGINT and SIGTERM to handle them itself, and a hook or notify-send must not
/// inherit that), and with no descriptor but its standard input, output and error: our pipes are
/// close-on-exec, and anything else open in the parent is closed in the child before it runs.
/// One thread owns a child: it writes the input, reads the output and waits for it.
public final class ChildProcess {
    /// Where the child's standard input or output goes.
    public enum Stream: Sendable {
        /// The parent's own descriptor.
        case inherit
        /// `/dev/null`.
        case discard
        /// A pipe to the parent: `writeInput` for standard input, `readOutput` for standard output.
        case pipe
    }

    public let pid: Int32
    private var inputDescriptor: Int32 = -1
    private var outputDescriptor: Int32 = -1

    /// Starts `arguments[0]` (searched in PATH unless it holds a slash) with the rest as its arguments,
    /// in this process's environment. Standard error is always inherited.
    /// The corresponding C function is `posix_spawnp`.
    public init(_ arguments: [String], input: Stream = .inherit, output: Stream = .inherit) throws(SystemError) {
        guard let program = arguments.first else { throw SystemError("cannot start a program", code: EINVAL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inputEnds: [Int32] = [-1, -1]
        var outputEnds: [Int32] = [-1, -1]
        func closeAll() { for descriptor in inputEnds + outputEnds where descriptor >= 0 { close(descriptor) } }
        switch input {
        case .inherit: break
        case .discard: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .pipe:
            guard pipe2(&inputEnds, O_CLOEXEC) == 0 else { throw SystemError("cannot start \(program)") }
            posix_spawn_file_actions_adddup2(&actions, inputEnds[0], 0)
        }
        switch output {
        case .inherit: break
        case .discard: posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        case .pipe:
            guard pipe2(&outputEnds, O_CLOEXEC) == 0 else {
                let failure = SystemError("cannot start \(program)")
                closeAll()
                throw failure
            }
            posix_spawn_file_actions_adddup2(&actions, outputEnds[1], 1)
        }
        // dup2 onto 0 and 1 clears close-on-exec there; everything from 3 up is closed.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var child: Int32 = 0
        let status = posix_spawnp(&child, program, &actions, &attributes, &cArguments, environ)
        for descriptor in [inputEnds[0], outputEnds[1]] where descriptor >= 0 { close(descriptor) }
        guard status == 0 else {
            for descriptor in [inputEnds[1], outputEnds[0]] where descriptor >= 0 { close(descriptor) }
            throw SystemError("cannot start \(program)", code: status)
        }
        pid = child
        inputDescriptor = inputEnds[1]
        outputDescriptor = outputEnds[0]
    }

    deinit {
        if inputDescriptor >= 0 { close(inputDescriptor) }
        if outputDescriptor >= 0 { close(outputDescriptor) }
    }

    /// Writes `bytes` to the child's standard input (with `input: .pipe`) without ever blocking past
    /// `deadline` (monotonic nanoseconds), then closes it. A child that never reads gets what fits.
    public func writeInput(_ bytes: [UInt8], deadline: Int64) {
        guard inputDescriptor >= 0 else { return }
        defer {
            close(inputDescriptor)
            inputDescriptor = -1
        }
        _ = fcntl(inputDescriptor, F_SETFL, fcntl(inputDescriptor, F_GETFL) | O_NONBLOCK)
        // A child that exits without reading would otherwise kill this whole process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try? FileDescriptor.writeAll(inputDescriptor, bytes, what: "write to process \(pid)", deadline: deadline)
    }

    /// Reads one line of the child's standard output (with `output: .pipe`), without its line break;
    /// nil when the output ends, or `deadline` (monotonic nanoseconds) passes, first.
    public func readLine(deadline: Int64) -> String? {
        guard outputDescriptor >= 0 else { return nil }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let left = deadline - SystemClock.monotonicNanoseconds()
            guard left > 0 else { return nil }
            var ready = pollfd(fd: outputDescriptor, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(clamping: left / 1_000_000 + 1))
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { continue }
            let count = read(outputDescriptor, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
    }

    /// Reads the child's standard output to its end (with `output: .pipe`).
    public func readOutput() -> [UInt8] {
        guard outputDescriptor >= 0 else { return [] }
        let data = (try? FileDescriptor.readAll(outputDescriptor, what: "read from process \(pid)")) ?? []
        close(outputDescriptor)
        outputDescriptor = -1
        return data
    }

    /// Waits for the child to end; returns its exit status (128 + the signal when a signal ended it).
    /// The corresponding C function is `waitpid`.
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return Self.exitStatus(status)
    }

    /// Waits for the child until `deadline` (monotonic nanoseconds); kills it there and returns nil.
    public func wait(deadline: Int64) -> Int32? {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return Self.exitStatus(status) }
            if reaped < 0 && errno != EINTR { return nil }
            if SystemClock.monotonicNanoseconds() >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return nil
            }
            usleep(5_000)
        }
    }

    /// Runs a program with `input` on its standard input and its standard output discarded; it is
    /// killed when `timeout` seconds pass. Returns its exit status, or nil when it could not start
    /// or ran out of time.
    public static func run(_ arguments: [String], input: String, timeout: Double) -> Int32? {
        let deadline = SystemClock.monotonicNanoseconds() + Int64(timeout * 1_000_000_000)
        guard let child = try? ChildProcess(arguments, input: .pipe, output: .discard) else { return nil }
        child.writeInput(Array(input.utf8), deadline: deadline)
        return child.wait(deadline: deadline)
    }

    /// The full path of a program found in PATH (or the usual directories), or nil.
    /// The corresponding C function is `access`.
    public static func find(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    // WIFEXITED, WEXITSTATUS and WTERMSIG are macros Swift cannot import.
    private static func exitStatus(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
