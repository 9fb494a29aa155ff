import ArgumentParser

@main
struct Telltale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telltale",
        abstract: "A privacy-auditing network monitor: what did each program send, and to whom?",
        discussion: """
            Telltale captures packets on every interface (loopback included), groups them into flows, \
            and reports them as a table or as JSON. It never sends traffic of its own: names come only \
            from what was observed, never from lookups.

            Examples:
              telltale replay capture.pcap                 flows of a capture file as a table
              telltale replay --format ndjson a.pcapng     the same as JSON lines
              sudo telltale capture --duration 30          live flows on all interfaces for 30 s
              sudo telltale capture -i eth0 --filter 'tcp port 443'
            """,
        version: "0.1.0",
        subcommands: [
            Daemon.self, Report.self, Status.self, Alerts.self, Rules.self, Run.self, Infer.self, Capture.self, Replay.self,
            Interfaces.self,
        ]
    )
}
