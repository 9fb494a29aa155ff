import Foundation

/// Runs programs for the tests: to completion, or in the background with output kept in files.
enum Shell {
    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    /// Runs `arguments` (found on PATH) to completion.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let input {
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            pipe.fileHandleForWriting.write(Data(input.utf8))
            try pipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        // Read both pipes before waiting, so a chatty program cannot block on a full pipe.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
            error: String(decoding: errData, as: UTF8.self))
    }

    /// A program running in the background; its standard output and error go to files.
    final class Background {
        let process = Process()
        let outputPath: String
        let errorPath: String

        init(_ arguments: [String], directory: String, name: String) throws {
            outputPath = "\(directory)/\(name).out"
            errorPath = "\(directory)/\(name).err"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
        var error: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

        /// Waits until `text` appears in standard error or output, or the program ends, or `seconds` pass.
        func waitFor(_ text: String, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if error.contains(text) || output.contains(text) { return true }
                if !process.isRunning { return error.contains(text) || output.contains(text) }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }

        /// Waits for the program to end, up to `seconds`; true when it ended.
        func waitForExit(seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            return !process.isRunning
        }

        /// Ends the program if it still runs (test cleanup).
        func stop() {
            if process.isRunning {
                process.terminate()
                _ = waitForExit(seconds: 5)
            }
        }
    }
}
