public import ArgumentParser
import Monitor
import Posix
public import Reporting

extension OutputFormat: ExpressibleByArgument {}

/// The formats of a command that prints a table or one JSON object (`status`, `top`): `--help`
/// lists only these.
enum TableOrJSON: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// The formats of `verdicts`.
enum TableOrJSONLines: String, ExpressibleByArgument, CaseIterable {
    case table, json, ndjson
    var output: OutputFormat { self == .table ? .table : self == .json ? .json : .ndjson }
}

/// Options every flow-printing command shares.
struct FormatOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output format: table, json, ndjson, csv, zeek (conn.log TSV) or zeek-json.")
    var format: OutputFormat = .table

    @Option(
        name: .customLong("local-net"),
        help: ArgumentHelp(
            "Treat this network as local (repeatable), e.g. 192.168.1.0/24; this machine's own addresses always are."))
    var localNetworks: [String] = []

    func validate() throws {
        if let text = LivePipeline.Options.invalidNetwork(in: localNetworks) {
            throw ValidationError("--local-net: '\(text)' is not an address or network (like 10.0.0.0/8 or fd00::/8)")
        }
    }

    func renderer() -> FlowRenderer {
        var renderer = FlowRenderer(format: format, terminal: Output.isTerminal, terminalWidth: Output.terminalWidth)
        renderer.openedAt = SystemClock.wallNanoseconds()
        return renderer
    }
}
