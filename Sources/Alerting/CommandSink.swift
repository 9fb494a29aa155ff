public import Reporting
import Posix

/// Runs a command for each alert with the alert's JSON on its standard input; exit status 0 is delivery.
public struct CommandSink: AlertSink {
    public let name = "command"
    public let arguments: [String]
    public let timeout: Double

    public init(arguments: [String], timeout: Double = 10) {
        self.arguments = arguments
        self.timeout = timeout
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        ChildProcess.run(arguments, input: json + "\n", timeout: timeout) == 0
    }
}
