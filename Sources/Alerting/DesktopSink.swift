public import Reporting
import Foundation
#if canImport(Glibc)
import Glibc
import Posix
#endif

/// Shows each alert as a desktop notification to every logged-in user with a session bus
/// (`/run/user/UID/bus`), through `notify-send` run as that user. Without notify-send or a
/// session it does nothing, quietly.
public struct DesktopSink: AlertSink {
    public let name = "desktop"
    let runtimeRoot: String
    let timeout: Double

    public init(runtimeRoot: String = "/run/user", timeout: Double = 5) {
        self.runtimeRoot = runtimeRoot
        self.timeout = timeout
    }

    /// The sessions found: (uid, user name, bus path).
    func sessions() -> [(uid: uid_t, user: String, bus: String)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: runtimeRoot) else { return [] }
        return entries.compactMap { entry in
            guard let uid = uid_t(entry) else { return nil }
            let bus = "\(runtimeRoot)/\(entry)/bus"
            guard access(bus, F_OK) == 0, let pw = getpwuid(uid), let namePointer = pw.pointee.pw_name else { return nil }
            return (uid, String(cString: namePointer), bus)
        }
    }

    public func deliver(_ alert: AlertRecord, json: String) -> Bool {
        guard let notify = ChildProcess.find("notify-send") else { return false }
        let arguments = DesktopSink.notifySendArguments(alert)
        var any = false
        for session in sessions() {
            let notifyArguments = ["env", "DBUS_SESSION_BUS_ADDRESS=unix:path=\(session.bus)", notify] + arguments
            let command: [String]
            if geteuid() == session.uid {
                command = notifyArguments
            } else if geteuid() == 0, let runuser = ChildProcess.find("runuser") {
                command = [runuser, "-u", session.user, "--"] + notifyArguments
            } else if geteuid() == 0, let sudo = ChildProcess.find("sudo") {
                command = [sudo, "-u", session.user, "--"] + notifyArguments
            } else {
                continue
            }
            if ChildProcess.run(command, input: "", timeout: timeout) == 0 { any = true }
        }
        return any
    }

    /// notify-send's arguments for an alert (after the program's path): application name, urgency
    /// (critical for high and critical severities), title and body. Every text is cleaned first,
    /// and the body, which notification servers read as markup, is escaped: a name seen on the
    /// wire (an SNI, a DNS answer) cannot put a link or an image in a Telltale alert.
    public static func notifySendArguments(_ alert: AlertRecord) -> [String] {
        let urgency = alert.severity == "high" || alert.severity == "critical" ? "critical" : "normal"
        let title = "Telltale: \(Sanitizer.clean(alert.severity)) alert"
        let body = Sanitizer.markup(Sanitizer.clean(alert.summary) + "\n" + Sanitizer.clean(alert.message))
        return ["-a", "Telltale", "-i", "security-high", "-u", urgency, title, body]
    }

    /// Shows one alert in the session of the caller (its $DBUS_SESSION_BUS_ADDRESS) with
    /// notify-send. False when notify-send is missing, fails or hangs.
    public static func notifyCurrentSession(_ alert: AlertRecord, timeout: Double = 5) -> Bool {
        guard let notify = ChildProcess.find("notify-send") else { return false }
        return ChildProcess.run([notify] + notifySendArguments(alert), input: "", timeout: timeout) == 0
    }
}
