import ArgumentParser
import Foundation
import Monitor
import Reporting

extension Telltale {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an evidence bundle written by `run --evidence` or `infer --evidence`.",
            discussion: """
                Checks the sha256 of every file against the bundle's MANIFEST (missing, changed and \
                unlisted files are named), replays capture.pcapng through the same pipeline as \
                `telltale replay` (no attribution: it re-derives 5-tuples, packets and bytes), and \
                compares the result with flows.ndjson: every recorded flow must be found with the same \
                packets and bytes each way, at the IP layer, and every conversation of the capture \
                must be recorded. Flows are compared per conversation (community id), summed, so a \
                conversation the run split into several flows still compares whole. Needs only to \
                read DIR: no privileges, no capture, no database.

                Exit status: 0 everything agrees, 1 a difference (each one is listed), 2 DIR is not a \
                directory or holds no bundle.

                Example:
                  sudo telltale run --evidence run-1 -- curl -s http://127.0.0.1:8000/
                  telltale verify run-1
                """
        )

        @Argument(help: ArgumentHelp("The bundle's directory.", valueName: "DIR"))
        var directory: String

        func run() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                Output.error("telltale: \(Sanitizer.clean(directory)) is not a directory")
                throw ExitCode(2)
            }
            let check = EvidenceBundle.verify(directory)
            if check.isNotABundle {
                Output.error("telltale: \(Sanitizer.clean(directory)) holds no evidence bundle (no \(EvidenceBundle.manifestName))")
                throw ExitCode(2)
            }
            if let version = check.version, let created = check.created {
                Output.write("bundle: created \(created) by Telltale \(version)\n")
            }
            for line in check.summary { Output.write(line + "\n") }
            var differences = check.hashProblems
            if let problem = check.captureProblem { differences.append(problem) }
            differences += check.flowProblems
            if !differences.isEmpty {
                Output.write("differences:\n")
                for line in differences { Output.write("  \(line)\n") }
            }
            Output.write(check.agrees ? "verdict: the bundle is intact and its flows agree with its capture\n" : "verdict: DIFFERENT\n")
            Output.flush()
            if !check.agrees { throw ExitCode(1) }
        }
    }
}
