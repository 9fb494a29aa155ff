import ArgumentParser
import FlowStore
import Posix
import Reporting

extension Telltale {
    struct Verdicts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The standing answer per program and per role: did it ever leave this machine?",
            discussion: """
                Reads the daemon's database and, for every program and every role seen in the window, \
                says how far its flows reached: "loopback only since …, N flows over D days", "stayed on \
                this machine and the local network", or "reached the internet: last at …, to …, rule …". \
                Programs that reached the internet come first, marked with "!".

                Examples:
                  telltale verdicts                        the last 30 days
                  telltale verdicts --since 7d --format json
                """
        )

        @OptionGroup var database: DatabaseOption

        @Option(help: "The window: the last DURATION, e.g. 7d or 30d.")
        var since: String = "30d"

        @Option(name: .shortAndLong, help: "Output format: table, json or ndjson.")
        var format: TableOrJSONLines = .table

        func validate() throws {
            let d: Int64
            do { d = try Quantity.duration(since) } catch { throw ValidationError("--since: \(error)") }
            if d == 0 { throw ValidationError("--since: expected a duration longer than zero, such as 30d") }
        }

        func run() throws {
            let store = try database.open()
            let now = SystemClock.wallNanoseconds()
            let span = (try? Quantity.duration(since)) ?? 0
            do {
                let verdicts = try store.standingVerdicts(in: .last(span, now: now))
                Output.write(VerdictRenderer(format: format.output, terminal: Output.isTerminal).render(verdicts, window: "last \(since)"))
                Output.flush()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
