import Posix
import Foundation
import ArgumentParser
import Monitor
import Reporting
#if canImport(Glibc)
import Glibc
#endif
import Logging

extension Telltale {
    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Capture live and print flows as they end.",
            discussion: """
                Captures on every interface (the 'any' device, loopback included, and interfaces that \
                appear later) unless -i names some. Stops on Ctrl-C or SIGTERM, after --duration, or \
                after --count frames; every open flow is printed before exit. Needs root or CAP_NET_RAW.
                """
        )

        @Option(name: [.customShort("i"), .customLong("interface")], help: "Interface to capture on (repeatable); default: all.")
        var interfaces: [String] = []

        @Option(help: "A capture filter in tcpdump syntax, e.g. 'not port 22'.")
        var filter: String?

        @Option(help: "Bytes kept of each frame (headers plus DNS and TLS/QUIC handshakes need about 8192).")
        var snaplen: Int32 = 8192

        @Option(help: "Stop after this many seconds.")
        var duration: Double?

        @Option(help: "Stop after this many frames.")
        var count: Int64?

        @Option(help: "Seconds after which a still-open flow is printed as an update (0: never; ndjson/csv only).")
        var activeTimeout: Double = 0

        @Flag(help: "Do not name destinations from observed DNS, TLS/QUIC SNI and HTTP Host.")
        var noNames = false

        @Flag(help: "Do not attribute flows to processes.")
        var noAttribution = false

        @Flag(help: "Attribute flows by polling the socket tables only, without the kernel's socket events (BPF).")
        var noKernelEvents = false

        @OptionGroup var output: FormatOptions

        func validate() throws {
            if let duration {
                do { _ = try Quantity.nanoseconds(seconds: duration) } catch { throw ValidationError("--duration: \(error)") }
                if duration <= 0 { throw ValidationError("--duration must be positive") }
            }
            do { _ = try Quantity.nanoseconds(seconds: activeTimeout) } catch { throw ValidationError("--active-timeout: \(error)") }
            if let count, count <= 0 { throw ValidationError("--count must be positive") }
            if snaplen < 128 || snaplen > 262_144 { throw ValidationError("--snaplen must be between 128 and 262144") }
        }

        func run() throws {
            ProcessMemory.returnLargeBuffersWhenFreed()
            var options = LivePipeline.Options()
            options.interfaces = interfaces.isEmpty ? ["any"] : interfaces
            options.snapLength = snaplen
            options.filter = filter
            options.names = !noNames
            options.attribution = !noAttribution
            options.kernelEvents = !noKernelEvents
            options.addLocalNetworks(output.localNetworks)
            // validate() checked both fit.
            options.activeTimeout = (try? Quantity.nanoseconds(seconds: activeTimeout)) ?? 0
            options.limits = LiveSession.Limits(duration: duration.flatMap { try? Quantity.nanoseconds(seconds: $0) }, frames: count)
            var logger = Logger(label: "telltale")
            logger.logLevel = ProcessInfo.processInfo.environment["TELLTALE_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            let pipeline: LivePipeline
            do {
                pipeline = try LivePipeline(options: options, logger: logger)
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            defer { pipeline.close() }
            Output.error("telltale: capturing on \(options.interfaces.joined(separator: ", ")); Ctrl-C stops")
            Signals.stopOnTermination(pipeline.stop)
            // Rows are made and printed here, so a slow lookup never holds up the packet path.
            var printer = FlowPrinter(renderer: output.renderer())
            while true {
                let batch = pipeline.next(waitMilliseconds: 100)
                printer.add(batch.flows.filter(\.isOpen).map(\.row))
                printer.add(batch.flows.filter { !$0.isOpen }.map(\.row))
                if batch.isLast { break }
            }
            printer.finish()
            let (c, s) = pipeline.snapshot
            Output.error(
                "telltale: \(c.frames) frames, \(c.ipPackets) IP packets"
                    + (c.copies > 0 ? " (and \(c.copies) copies of them routed through this machine, counted once)" : "")
                    + ", \(c.notIP) not IP, \(c.damaged) damaged;"
                    + " kernel: \(s.text)")
            if let state = pipeline.attributionState {
                let share = printer.bytes == 0 ? 100 : (Double(printer.attributedBytes) / Double(printer.bytes) * 1000).rounded() / 10
                Output.error(
                    "telltale: coverage: \(share)% of \(ByteCount.text(printer.bytes)) attributed to a process"
                        + " (attribution: \(state); \(pipeline.eventsDropped) socket events dropped)")
            }
        }
    }
}
