import ArgumentParser
import FlowStore
import Foundation
import Monitor
import Posix
import Reporting

extension Telltale {
    /// `telltale rules check` and `telltale rules explain`.
    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check rules files, and explain the decision for a flow.",
            subcommands: [Check.self, Explain.self, Learn.self]
        )

        static let defaultDirectory = RulesCommand.installedDirectory

        /// Prints every problem of rules that do not load, and exits 1.
        static func refuse(_ error: any Error) -> ExitCode {
            for problem in "\(error)".split(separator: "\n") { Output.error(Sanitizer.clean(String(problem))) }
            return ExitCode(1)
        }

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a rules directory (or one file).",
                discussion: """
                    Prints every problem as FILE:LINE: what is wrong, and exits 1 when there is any. A \
                    directory or file that group or others may write, or that neither root nor you own, \
                    is refused, as OpenSSH refuses a loose key.
                    """
            )

            @Argument(help: "Rules directory or file (default /etc/telltale/rules.d; when that is not there, the built-in default rules).")
            var path: String = Rules.defaultDirectory

            func run() throws {
                do { Output.write(try RulesCommand.check(path)) } catch { throw Rules.refuse(error) }
                Output.flush()
            }
        }

        struct Explain: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show which rules match a stored flow, in precedence order, and the decision.",
                discussion: """
                    The flow is read from the database; the rules are the ones on disk now. A flow of an \
                    observed run (`telltale run`/`infer`) is explained by the run's policy, a rule set of \
                    its own (run/loopback-only, run/model-runtime, run/chatbot-ui). Facts the database \
                    does not keep (ancestors beyond the parent, open files, listening ports) are not known \
                    to the explanation.
                    """
            )

            @OptionGroup var database: DatabaseOption

            @Option(help: "Rules directory or file (default /etc/telltale/rules.d; when that is not there, the built-in default rules).")
            var rules: String = Rules.defaultDirectory

            @Argument(help: "The flow's uid (from telltale report --by flow).")
            var uid: String

            @Option(name: .shortAndLong, help: "Output format: table (text) or json.")
            var format: OutputFormat = .table

            func validate() throws {
                if format != .table && format != .json { throw ValidationError("--format: rules explain prints table or json") }
            }

            func run() throws {
                let store = try database.open()
                let row: FlowRow
                do {
                    guard let found = try store.flows(in: TimeWindow(), uid: uid).first else {
                        Output.error("telltale: no flow with uid \(Sanitizer.clean(uid)) in \(store.path)")
                        throw ExitCode(1)
                    }
                    row = found
                } catch let error as StoreError {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                do { Output.write(try RulesCommand.explain(row, rules: rules, json: format == .json)) } catch { throw Rules.refuse(error) }
                Output.flush()
            }
        }

        struct Learn: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Learning mode: write the (program, destination) pairs of stored flows as a baseline.",
                discussion: """
                    Reads the flows of the window (e.g. a week of normal use recorded by the daemon) and \
                    writes each program's destinations to FILE (mode 0640), one entry per line: the \
                    program's name, its executable, sha256, destination, first and last time seen, and \
                    the number of flows, under a header that says how it was made. Review it, then give \
                    it to the daemon (`baseline: FILE` in its configuration, or --baseline FILE): from \
                    then on a flow whose program never reached its destination while learning is an \
                    alert (rule learning/new-destination), on top of the rules.

                    A program is matched by its executable's path (--by path, the default: an update \
                    keeps the baseline) or by its sha256 (--by hash: any change of the file is a new \
                    program). The destination is the observed host name, else the address. Fields are \
                    tab-separated; a byte that is not plain text (a tab or newline in a path, a \
                    terminal escape) is written as %XX, and the daemon refuses a file holding raw ones.

                    Examples:
                      telltale rules learn --since 7d --out /etc/telltale/baseline.tsv
                      telltale rules learn --since 7d --by hash --out /etc/telltale/baseline.tsv
                    """
            )

            @OptionGroup var database: DatabaseOption
            @OptionGroup var window: WindowOptions

            @Option(help: "The baseline file to write.")
            var out: String

            @Option(help: ArgumentHelp("Match programs by their executable's path or its sha256.", valueName: "path|hash"))
            var by: String = "path"

            func validate() throws {
                if !RulesCommand.isBaselineKey(by) { throw ValidationError("--by: expected path or hash") }
            }

            func run() throws {
                let store = try database.open()
                let learnt: (text: String, pairs: Int, flows: Int)
                do {
                    learnt = try RulesCommand.learn(
                        from: store, in: window.window(now: SystemClock.wallNanoseconds()), key: by, now: SystemClock.wallNanoseconds())
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                do {
                    try PrivateFile.write(Array(learnt.text.utf8), to: out, mode: 0o640)
                } catch {
                    Output.error("telltale: cannot write \(out): \(error)")
                    throw ExitCode(1)
                }
                Output.write("\(out): \(learnt.pairs) (program, destination) pairs from \(Count.text(learnt.flows, "attributed flow")), keyed by \(by)\n")
                Output.flush()
            }
        }
    }
}
