public import Foundation

extension TestProcess {
    /// A program running in the background; its standard output and error go to files in `directory`.
    public final class Background {
        public let process: Process
        public let outputPath: String
        public let errorPath: String

        /// Starts `arguments` with its output in `directory/name.out` and its errors in `directory/name.err`.
        public init(_ arguments: [String], directory: String, name: String) throws {
            outputPath = "\(directory)/\(name).out"
            errorPath = "\(directory)/\(name).err"
            process = try TestProcess.launch(arguments, input: nil, output: outputPath, error: errorPath)
        }

        public var output: String { TestProcess.contents(outputPath) }
        public var error: String { TestProcess.contents(errorPath) }

        /// Waits until `text` appears in standard error or output, or the program ends, or `seconds` pass.
        public func waitFor(_ text: String, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if error.contains(text) || output.contains(text) { return true }
                if !process.isRunning { return error.contains(text) || output.contains(text) }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }

        /// Waits for the program to end, up to `seconds`; true when it ended.
        public func waitForExit(seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            return !process.isRunning
        }

        /// Ends the program if it still runs (test cleanup): SIGTERM, then SIGKILL after 5 s, since a
        /// program started from a thread that blocks SIGTERM inherits that mask and may never see it.
        public func stop() {
            if process.isRunning {
                process.terminate()
                if !waitForExit(seconds: 5) {
                    kill(process.processIdentifier, SIGKILL)
                    _ = waitForExit(seconds: 5)
                }
            }
        }
    }
}
