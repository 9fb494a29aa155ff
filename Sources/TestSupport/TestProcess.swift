public import Foundation

/// Runs programs for the tests, with their input and output in files.
///
/// Never pipes: a pipe's reader sees its end only when every copy of the write end is closed, and a
/// child started meanwhile by a parallel test (a server, a daemon) can hold a copy for minutes.
public enum TestProcess {
    /// A test could not set up what it needs; the description says what and why.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// How a program ended and what it wrote.
    public struct Outcome: Sendable {
        public var status: Int32
        /// `.exit`, or `.uncaughtSignal` when a signal ended it (`status` is then the signal).
        public var reason: Process.TerminationReason
        /// Standard output; with `runCombined`, standard error too, interleaved as written.
        public var output: String
        /// Standard error; empty with `runCombined`.
        public var error: String
    }

    /// Runs `arguments` (the program found on PATH unless it is a path) to its end, with `input`
    /// on its standard input (else /dev/null).
    @discardableResult
    public static func run(_ arguments: [String], input: String? = nil) throws -> Outcome {
        let directory = try ScratchDirectory.make("run")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var inputPath: String?
        if let input {
            inputPath = directory + "/input"
            try Data(input.utf8).write(to: URL(fileURLWithPath: directory + "/input"))
        }
        let process = try launch(arguments, input: inputPath, output: directory + "/output", error: directory + "/error")
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, reason: process.terminationReason,
            output: contents(directory + "/output"), error: contents(directory + "/error"))
    }

    /// Runs `arguments` to its end with standard output and error in one file, as a terminal shows them.
    @discardableResult
    public static func runCombined(_ arguments: [String]) throws -> Outcome {
        let directory = try ScratchDirectory.make("run")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = try launch(arguments, input: nil, output: directory + "/output", error: nil)
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, reason: process.terminationReason, output: contents(directory + "/output"), error: "")
    }

    /// Starts `arguments` in the background with standard output and error going to `log` (nil: discarded).
    public static func start(_ arguments: [String], log: String?) throws -> Process {
        try launch(arguments, input: nil, output: log, error: nil)
    }

    /// The text of a file a program wrote, or "" when there is none.
    public static func contents(_ path: String) -> String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data(), as: UTF8.self)
    }

    /// Starts a program with its standard streams on files: `output` nil is /dev/null, `error` nil
    /// is the same file as `output`, `input` nil is /dev/null.
    static func launch(_ arguments: [String], input: String?, output: String?, error: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = try input.map { try FileHandle(forReadingFrom: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
        let outputHandle = try output.map(writableFile) ?? FileHandle.nullDevice
        process.standardOutput = outputHandle
        process.standardError = try error.map(writableFile) ?? outputHandle
        try process.run()
        return process
    }

    private static func writableFile(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw Failure("cannot create \(path)")
        }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }
}
