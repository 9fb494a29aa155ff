import ArgumentParser
import Posix

@main
struct Telltale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telltale",
        abstract: "A privacy-auditing network monitor: what did each program send, and to whom?",
        discussion: """
            Telltale captures packets on every interface (loopback included), ties each flow to the \
            process that made it, names destinations from what was observed (never from lookups of \
            its own), and records flows in SQLite. It never sends traffic of its own.

            Examples:
              sudo telltale infer --prompt "Hello"      the bundled model, audited
              sudo telltale run -- python3 script.py    did anything leave this machine?
              sudo telltale daemon --db flows.db        record every flow (the service)
              telltale report --db flows.db --since 1h  what each program sent, and to whom
              telltale verdicts                         did each program ever leave this machine?
              telltale top                              live, per program
              sudo telltale capture --duration 30       live flows with their processes
              telltale replay capture.pcap              the flows of a capture file
            """,
        version: telltaleVersion,
        subcommands: [
            Daemon.self, Report.self, Verdicts.self, Top.self, Status.self, Alerts.self, Rules.self, Run.self, Infer.self, Verify.self, Capture.self, Replay.self,
            Interfaces.self, Notify.self, Canary.self,
        ]
    )
}
