import ArgumentParser
import FlowStore
import Foundation
import Monitor
import Posix
import Reporting
#if canImport(Glibc)
import Glibc
#endif

extension Telltale {
    /// `telltale notify`: the per-user companion that brings the daemon's alerts to the desktop.
    struct Notify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the daemon's new alerts as desktop notifications, in your session, without privileges.",
            discussion: """
                Follows the alerts table of the daemon's database (read-only: be a member of the \
                database's group, `telltale` when installed) and shows each new alert with notify-send \
                in the session it runs in. The daemon runs as a service without a desktop session; this \
                companion runs as you, so its notifications reach you. Each alert is shown once: the \
                last one shown is remembered in $XDG_STATE_HOME/telltale/notify.last (default \
                ~/.local/state), so a restart resumes where it stopped; the first run starts with the \
                alerts raised from then on. Stops on SIGINT or SIGTERM.

                Run it at login with the systemd user unit:
                  systemctl --user enable --now telltale-notify
                """
        )

        @OptionGroup var database: DatabaseOption

        @Option(help: "How often to look for new alerts, e.g. 1s or 500ms.")
        var interval: String = "1s"

        @Option(help: "Show alerts of this severity or above: info, low, medium, high, critical.")
        var minSeverity: String = "info"

        @Flag(help: "Also print each alert as one line on standard output (no desktop needed).")
        var print = false

        @Flag(help: "Do not show desktop notifications (with --print: a terminal follower).")
        var noDesktop = false

        @Option(help: "Remember the last alert shown in this file (default $XDG_STATE_HOME/telltale/notify.last).")
        var stateFile: String?

        static let severities = ["info", "low", "medium", "high", "critical"]

        func validate() throws {
            do {
                guard try Quantity.duration(interval) > 0 else { throw ValidationError("--interval: must be longer than zero") }
            } catch let error as ValidationError {
                throw error
            } catch {
                throw ValidationError("--interval: \(error)")
            }
            guard Self.severities.contains(minSeverity) else {
                throw ValidationError("--min-severity: expected one of \(Self.severities.joined(separator: ", "))")
            }
            if noDesktop && !print { throw ValidationError("--no-desktop without --print would show nothing") }
        }

        var statePath: String {
            if let stateFile { return stateFile }
            let environment = ProcessInfo.processInfo.environment
            let base = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
                ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
            return base + "/telltale/notify.last"
        }

        func run() throws {
            let period = (try? Quantity.duration(interval)) ?? 1_000_000_000
            let stop = StopSignal()
            Signals.stopOnTermination(stop)
            let minimum = Self.severities.firstIndex(of: minSeverity) ?? 0
            var store: FlowStore?
            var waitingSaid = false
            var last = readState()
            if !noDesktop && ChildProcess.find("notify-send") == nil {
                Output.error("telltale notify: notify-send is missing (Debian package libnotify-bin): alerts cannot reach the desktop\(print ? "; printing them" : "")")
            }
            while !stop.isTriggered {
                if store == nil {
                    do {
                        store = try FlowStore(path: database.db, readOnly: true)
                        if waitingSaid { Output.error("telltale notify: following \(database.db)") }
                    } catch {
                        if !waitingSaid {
                            Output.error("telltale notify: \(error); waiting for it")
                            waitingSaid = true
                        }
                    }
                }
                if let store {
                    do {
                        if last == nil {
                            last = try store.lastAlertID()
                            writeState(last ?? 0)
                        }
                        let fresh = try store.alerts(afterID: last ?? 0)
                        for alert in fresh {
                            if (Self.severities.firstIndex(of: alert.severity) ?? 0) >= minimum { show(alert) }
                            last = alert.id ?? last
                        }
                        if !fresh.isEmpty { writeState(last ?? 0) }
                    } catch {
                        Output.error("telltale notify: \(error)")
                    }
                }
                var descriptor = pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, Int32(clamping: period / 1_000_000))
            }
        }

        func show(_ alert: AlertRecord) {
            if print {
                Output.write(Sanitizer.clean("\(Timestamp.local(alert.time)) \(AlertNotice.summary(alert)): \(alert.message)") + "\n")
                Output.flush()
            }
            if !noDesktop && !AlertNotice.showOnDesktop(alert) {
                Output.error("telltale notify: notify-send could not show alert \(alert.id ?? 0) (is there a desktop session? $DBUS_SESSION_BUS_ADDRESS)")
            }
        }

        func readState() -> Int64? {
            guard let text = try? String(contentsOfFile: statePath, encoding: .utf8) else { return nil }
            return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        func writeState(_ id: Int64) {
            let path = statePath
            let directory = (path as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            do {
                try PrivateFile.write(Array("\(id)\n".utf8), to: path, mode: 0o600)
            } catch {
                Output.error("telltale notify: cannot remember the last alert in \(path) (\(error))")
            }
        }
    }
}
