import ArgumentParser
import Capture

extension Telltale {
    struct Interfaces: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the interfaces that can be captured on.")

        func run() throws {
            let list: [NetworkInterface]
            do {
                list = try PcapHandle.interfaces()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
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
