import ArgumentParser
import Monitor
import Reporting

extension Telltale {
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the flows of capture files (pcap or pcapng).",
            discussion: """
                Files are read in order into one flow table, so a flow that spans rotated files is one \
                flow. A missing, unreadable or truncated file is reported on standard error; the flows \
                read up to the damage are still printed, and the exit status is 1. Flows from files \
                carry no process: attribution needs the live machine.
                """
        )

        @Argument(help: "Capture files to read.")
        var files: [String]

        @OptionGroup var output: FormatOptions

        @Flag(help: "Do not name destinations from observed DNS, TLS/QUIC SNI and HTTP Host.")
        var noNames = false

        @Flag(help: "Print no summary line on standard error.")
        var quiet = false

        func run() throws {
            var printer = FlowPrinter(renderer: output.renderer())
            var replay = Monitor.Replay(names: !noNames)
            replay.rows(files: files, localNetworks: output.localNetworks) { printer.add($0) }
            printer.finish()
            let c = replay.pipeline.counters
            if !quiet {
                Output.error(
                    "telltale: \(printer.printed) flows from \(c.frames) frames in \(replay.filesRead) of \(files.count) files"
                        + " (\(c.ipPackets) IP packets"
                        + (c.copies > 0 ? ", \(c.copies) copies of them on another interface counted once" : "")
                        + ", \(c.notIP) not IP, \(c.damaged) damaged skipped"
                        + (c.unsupportedLinkType > 0 ? ", \(c.unsupportedLinkType) of an unsupported link type" : "")
                        + ")")
            }
            for problem in replay.problems {
                // A file that never opened has no flows to show; a damaged one shows those read before.
                Output.error("telltale: \(problem.error)" + (problem.neverOpened ? "" : "; flows read before the damage are shown"))
            }
            if !replay.problems.isEmpty { throw ExitCode(1) }
        }
    }
}
