import Foundation

/// Runs the built `telltale-llama` executable and the tiny model for end-to-end tests.
enum BinaryHarness {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The executable built beside this test bundle.
    static func executable() throws -> String {
        var candidates: [URL] = []
        if let first = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(packageRoot.appendingPathComponent(".build/debug"))
        for directory in candidates {
            let path = directory.appendingPathComponent("telltale-llama").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw Failure(description: "telltale-llama was not built beside the tests (looked in \(candidates.map(\.path)))")
    }

    /// The generated tiny model, written when missing.
    static func model() throws -> String {
        try generated.get()
    }

    private static let generated: Result<String, Failure> = {
        let model = packageRoot.appendingPathComponent("models/tiny.gguf").path
        if FileManager.default.fileExists(atPath: model) { return .success(model) }
        guard let result = try? run("/usr/bin/env", ["python3", packageRoot.appendingPathComponent("scripts/make-tiny-model.py").path, "--output", model]),
              result.status == 0 else {
            return .failure(Failure(description: "scripts/make-tiny-model.py failed (run scripts/setup.sh for gguf and numpy)"))
        }
        return .success(model)
    }()

    struct Outcome {
        var status: Int32
        var reason: Process.TerminationReason
        var stdout: String
        var stderr: String
    }

    /// Runs a program to its end, with its output in temporary files: a pipe would not report its
    /// end while some other child started meanwhile (a server in a parallel test) still holds a copy.
    static func run(_ executable: String, _ arguments: [String]) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telltale-llama-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        return Outcome(status: process.terminationStatus, reason: process.terminationReason,
                       stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                       stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
    }

    static func llama(_ arguments: [String]) throws -> Outcome {
        try run(try executable(), arguments)
    }
}
