import Alerting
import Content
public import Reporting

/// What `telltale notify` and `telltale canary` need of the alerting and content modules.
public enum AlertNotice {
    /// The alert in one line: severity, rule, program and destination.
    public static func summary(_ alert: AlertRecord) -> String { alert.summary }

    /// Shows the alert on the desktop session of the user running this (notify-send); false when
    /// it could not be shown.
    public static func showOnDesktop(_ alert: AlertRecord) -> Bool { DesktopSink.notifyCurrentSession(alert) }

    /// A new canary token from the system's random numbers; nil if one could not be made.
    public static func newCanaryToken() -> String? {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<Content.Canary.randomByteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return try? Content.Canary.generate(randomBytes: random)
    }
}
