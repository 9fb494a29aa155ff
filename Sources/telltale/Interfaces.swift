import ArgumentParser
import Capture
import Reporting

extension Telltale {
    struct Interfaces: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the interfaces that can be captured on.")

        @Option(name: .shortAndLong, help: "Output format: table (text) or json.")
        var format: OutputFormat = .table

        func validate() throws {
            if format != .table && format != .json { throw ValidationError("--format: interfaces prints table or json") }
        }

        func run() throws {
            let list: [NetworkInterface]
            do {
                list = try PcapHandle.interfaces()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            if format == .json {
                var w = JSONWriter()
                w.beginObject()
                w.key("libpcap"); w.string(PcapHandle.libraryVersion)
                w.key("interfaces"); w.beginArray()
                for interface in list {
                    w.beginObject()
                    w.key("name"); w.string(interface.name)
                    w.key("up"); w.bool(interface.isUp)
                    w.key("running"); w.bool(interface.isRunning)
                    w.key("loopback"); w.bool(interface.isLoopback)
                    w.key("addresses"); w.beginArray(); for a in interface.addresses { w.string(a) }; w.endArray()
                    w.endObject()
                }
                w.endArray()
                w.endObject()
                Output.write(w.text + "\n")
                Output.flush()
                return
            }
            for interface in list {
                var flags: [String] = []
                if interface.isUp { flags.append("up") }
                if interface.isRunning { flags.append("running") }
                if interface.isLoopback { flags.append("loopback") }
                let addresses = interface.addresses.isEmpty ? "" : "  " + interface.addresses.joined(separator: " ")
                Output.write("\(interface.name)  [\(flags.joined(separator: ","))]\(addresses)\n")
            }
            Output.write("(\(PcapHandle.libraryVersion))\n")
            Output.flush()
        }
    }
}
