public import Reporting
public import Logging
import Reporting

/// Writes each alert to the log (the journal under systemd), with structured metadata.
public struct LogSink: AlertSink {
    public let name = "log"
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        // Paths, names and messages come from /proc, the wire and the rules: a newline or an escape in
        // one would forge or hide log lines, so every string is cleaned before the log sees it.
        let clean = Sanitizer.clean
        // The severity chooses the priority (journald's and syslog's): warning up to medium, error
        // for high, critical for critical; `journalctl -p warning` shows every alert.
        let level: Logger.Level = switch alert.severity {
        case "critical": .critical
        case "high": .error
        default: .warning
        }
        logger.log(level: level, "alert: \(alert.summary): \(clean(alert.message))", metadata: [
            "rule": "\(clean(alert.rule))", "severity": "\(clean(alert.severity))", "exe": "\(clean(alert.exe ?? ""))",
            "destination": "\(clean(alert.destination))", "flow": "\(clean(alert.flowUID ?? ""))",
            "role": "\(clean(alert.role ?? ""))",
        ])
        return true
    }
}
