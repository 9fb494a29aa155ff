public import Reporting
public import Logging

/// Writes each alert to the log (the journal under systemd), with structured metadata.
public struct LogSink: AlertSink {
    public let name = "log"
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        logger.warning("alert: \(alert.summary): \(alert.message)", metadata: [
            "rule": "\(alert.rule)", "severity": "\(alert.severity)", "exe": "\(alert.exe ?? "")",
            "destination": "\(alert.destination)", "flow": "\(alert.flowUID ?? "")", "role": "\(alert.role ?? "")",
        ])
        return true
    }
}
