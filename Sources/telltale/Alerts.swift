import ArgumentParser
import FlowStore
import Foundation
import Monitor
import Posix
import Reporting

extension Telltale {
    struct Alerts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the alerts raised, oldest first.",
            discussion: """
                Each alert names the program, the destination, the rule and its severity, and the sinks \
                that took it (log, desktop, webhook, command; rate-limited when none was tried).

                Examples:
                  telltale alerts --since 1h
                  telltale alerts --format ndjson --from 2026-11-29
                """
        )

        @OptionGroup var database: DatabaseOption
        @OptionGroup var window: WindowOptions

        @Option(help: "At most this many alerts (the newest).")
        var limit: Int = 10_000

        @Option(name: .shortAndLong, help: "Output format: table, json, ndjson or csv.")
        var format: OutputFormat = .table

        func validate() throws {
            if format.isFlowOnly {
                throw ValidationError("--format \(format.rawValue) is a layout for flows (report --by flow); alerts print as table, json, ndjson or csv")
            }
        }

        func run() throws {
            let store = try database.open()
            let alerts: [AlertRecord]
            do {
                alerts = try store.alerts(in: window.window(now: SystemClock.wallNanoseconds()), limit: limit)
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            Output.write(Alerts.render(alerts, format: format))
            Output.flush()
        }

        static let columns = ["time", "severity", "program", "role", "destination", "rule", "flow_uid", "delivered", "message"]

        /// The fields of a row; `localTime` (tables) shows the time in this machine's zone, CSV keeps UTC.
        static func fields(_ a: AlertRecord, localTime: Bool = false) -> [String] {
            [localTime ? Timestamp.local(a.time) : Timestamp.rfc3339(a.time), a.severity, a.program ?? a.exe ?? a.process ?? "(unattributed)", a.role ?? "", a.destination, a.rule,
             a.flowUID ?? "", a.delivered.joined(separator: ","), a.message].map(Sanitizer.clean)
        }

        static func json(_ a: AlertRecord) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var copy = a
            copy.id = nil
            guard let data = try? encoder.encode(copy), var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                return "{}"
            }
            object["timestamp"] = Timestamp.rfc3339(a.time)
            guard let out = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
            return String(decoding: out, as: UTF8.self)
        }

        static func render(_ alerts: [AlertRecord], format: OutputFormat) -> String {
            switch format {
            case .ndjson, .zeekJSON:
                return alerts.map { json($0) + "\n" }.joined()
            case .json:
                return "[" + alerts.map(json).joined(separator: ",\n") + "]\n"
            case .csv:
                // The same quoting as flows (fields are already sanitized): RFC 4180, formulas defused.
                return ([columns.joined(separator: ",")] + alerts.map { fields($0).map(FlowRow.csvQuote).joined(separator: ",") })
                    .joined(separator: "\n") + "\n"
            case .table, .zeek:
                if alerts.isEmpty { return "no alerts in this window\n" }
                let shown = Array(columns.prefix(8))
                let rows = alerts.map { Array(fields($0, localTime: true).prefix(8)) }
                var widths = shown.map(\.count)
                for row in rows { for (i, f) in row.enumerated() { widths[i] = min(60, max(widths[i], f.count)) } }
                func line(_ cells: [String]) -> String {
                    cells.enumerated().map { i, c in
                        let cell = c.count > widths[i] ? String(c.prefix(widths[i] - 1)) + "…" : c
                        return cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
                }
                return ([line(shown.map { $0.uppercased() })] + rows.map(line)).joined(separator: "\n") + "\n"
            }
        }
    }
}
