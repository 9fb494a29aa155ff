import ArgumentParser
import Monitor
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
            do {
                Output.write(try InterfaceListing.render(json: format == .json))
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            Output.flush()
        }
    }
}
