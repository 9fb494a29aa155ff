import Posix
import ArgumentParser
import Foundation
import Logging
import Monitor
import Reporting
import FlowStore

/// How a run's policy is described in the audit.
/// Options shared by `run` and `infer`.
struct ObservationOptions: ParsableArguments {
    @Option(help: "Judge the command's traffic by this role's policy (\(ObservedRun.policyNames.dropFirst().joined(separator: ", "))) instead of 'loopback only'; `telltale rules explain UID` shows how a flow was judged.")
    var policy: String?

    @Flag(help: "Run the command in a network namespace with loopback only: it cannot leak.")
    var isolate = false

    @Option(help: "Also write the audit to FILE.json and FILE.md (or only one, when FILE ends in .json or .md).")
    var report: String?

    @Option(help: "Record the run and its flows in this database, so `report` shows them (default: the daemon's, \(DaemonConfiguration.defaultDatabase), when it exists).")
    var db: String?

    @Option(help: "Log level of the observer: trace, debug, info, notice, warning, error.")
    var logLevel: String = "warning"

    @Flag(help: "Attribute flows by polling the socket tables only, without the kernel's socket events (BPF).")
    var noKernelEvents = false

    @Flag(help: "Do not inspect content (by default prompts sent to a model runtime are fingerprinted — never kept as text — and matched against what leaves this machine).")
    var noInspectContent = false

    @Option(help: ArgumentHelp(
        "Keep the evidence in DIR (new, or empty): the packets' headers (pcapng, no payload), the flows, the processes, the audit, and a MANIFEST of sha256 hashes; `telltale verify DIR` checks it.",
        valueName: "DIR"))
    var evidence: String?

    func validate() throws {
        if let evidence {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: evidence, isDirectory: &isDirectory) {
                guard isDirectory.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: evidence))?.isEmpty == true else {
                    throw ValidationError("--evidence: '\(evidence)' exists and is not an empty directory; give a new one")
                }
            }
        }
        if let policy, !ObservedRun.policyNames.contains(policy) {
            throw ValidationError("--policy: unknown role '\(policy)' (known: \(ObservedRun.policyNames.dropFirst().joined(separator: ", ")))")
        }
    }

    /// Runs the command under observation with these options; a failure to observe is exit status 1.
    func observe(_ command: [String], captureOutput: Bool = false) throws -> ObservedRun.Outcome {
        // An error like any other (exit status 1), not a usage error: the command line was right.
        if getuid() != 0 {
            Output.error("telltale: observing a command needs root (packet capture and the kernel's process events): run it with sudo")
            throw ExitCode(1)
        }
        var options = ObservedRun.Options(command: command)
        options.isolate = isolate
        options.kernelEvents = !noKernelEvents
        options.captureOutput = captureOutput
        // The daemon's rules give the programs their roles; the run's policy gives the verdicts.
        do { try options.judge(policy: policyName, rules: nil) } catch { throw Telltale.Rules.refuse(error) }
        if noInspectContent { options.content = nil }
        if let evidence {
            // Made before the capture opens: the capture thread writes the frames into it as they come.
            do {
                try EvidenceBundle.prepare(evidence)
            } catch {
                Output.error("telltale: --evidence: \(error)")
                throw ExitCode(1)
            }
            options.evidenceCapture = EvidenceBundle.capturePath(in: evidence)
        }
        do {
            return try ObservedRun(options: options, logger: logger()).run()
        } catch {
            Output.error("telltale: \(error)")
            throw ExitCode(1)
        }
    }

    /// The run policy's name (validate() checked it; the built-in rule sets always parse: PolicyTests).
    var policyName: String { policy ?? "loopback-only" }

    func logger() -> Logger {
        var logger = Logger(label: "telltale")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        return logger
    }

    /// Writes `text` to `file` with mode 0640, as the database is: through a new file renamed over
    /// the old one, so a reader sees the old audit or the new one and never a wider mode. Nil on success.
    static func writePrivately(_ text: String, to file: String) -> String? {
        do {
            try PrivateFile.write(Array(text.utf8), to: file, mode: 0o640)
            return nil
        } catch {
            return error.message
        }
    }

    /// Prints the audit, writes the report files and the evidence, and exits 0 (clean) or 3 (violation).
    func finish(_ report: AuditReport, outcome: ObservedRun.Outcome) throws {
        // With a daemon installed, its database keeps every observed run too.
        let target = db ?? (FileManager.default.isWritableFile(atPath: DaemonConfiguration.defaultDatabase) ? DaemonConfiguration.defaultDatabase : nil)
        if let target { try record(report, in: target) }
        Output.write(report.text(terminal: Output.isTerminal))
        Output.flush()
        if let path = self.report {
            var files: [(String, String)] = []
            if path.hasSuffix(".json") { files = [(path, report.json())] }
            else if path.hasSuffix(".md") { files = [(path, report.markdown())] }
            else { files = [(path + ".json", report.json()), (path + ".md", report.markdown())] }
            for (file, text) in files {
                if let problem = Self.writePrivately(text, to: file) {
                    Output.error("telltale: cannot write \(file): \(problem)")
                    throw ExitCode(1)
                }
                Output.error("telltale: wrote \(file)")
            }
        }
        if let evidence { try writeEvidence(report, outcome: outcome, to: evidence, contentRecords: report.contentRecords()) }
        if !report.isClean { throw ExitCode(3) }
    }

    /// Writes the evidence bundle beside the capture the run wrote into `directory`, with the content
    /// match records given (JSON objects, one each).
    func writeEvidence(
        _ report: AuditReport, outcome: ObservedRun.Outcome, to directory: String, contentRecords: [String] = []
    ) throws {
        if let copy = outcome.evidenceCapture, !copy.isComplete {
            Output.error(
                "telltale: warning: \(copy.framesNotWritten) frames are not in \(copy.path) (\(copy.problem ?? "not written")); "
                    + "verify will show the flows they belong to as differences")
        }
        // The tree's flows as judged (verdict, rule, roles), and the rest of the window as observed.
        let flows = (report.treeFlows + outcome.otherFlows + outcome.unattributedFlows).sorted { $0.start < $1.start }
        do {
            try EvidenceBundle.write(
                to: directory, flows: flows, audit: report, contentRecords: contentRecords, created: SystemClock.wallNanoseconds())
        } catch {
            Output.error("telltale: cannot write the evidence in \(directory): \(error)")
            throw ExitCode(1)
        }
        Output.error("telltale: evidence in \(directory) (verify with: telltale verify \(directory))")
    }

    /// Writes the session and the tree's flows (tagged with it) to the database.
    func record(_ report: AuditReport, in path: String) throws {
        do {
            let store = try FlowStore(path: path)
            let session = try store.insertSession(
                kind: report.kind, command: ShellWords.join(report.command), start: report.start, end: report.end,
                verdict: report.isClean ? "clean" : "violation", report: report.json())
            let entries = (report.treeFlows + report.suspects).map { FlowWriter.Entry(row: $0, sessionID: session) }
            try FlowWriter(store: store).write(entries)
            Output.error("telltale: recorded this \(report.kind) as session \(session) in \(path)")
        } catch {
            Output.error("telltale: cannot record the \(report.kind) in \(path): \(error)")
            throw ExitCode(1)
        }
    }

    func audit(kind: String, command: [String], _ outcome: ObservedRun.Outcome) -> AuditReport {
        var report = AuditReport(
            kind: kind, command: command, start: outcome.start, end: outcome.end, exitStatus: outcome.exitStatus,
            interfaces: outcome.interfaces, isolated: outcome.isolated, policy: ObservedRun.describePolicy(policyName),
            treeFlows: outcome.treeFlows, otherFlows: outcome.otherFlows.count,
            unattributedFlows: outcome.unattributedFlows, packets: outcome.counters.frames,
            dropped: outcome.statistics.lost + outcome.attributionDropped,
            damaged: outcome.counters.damaged)
        report.attribution = outcome.attribution
        report.eventDropped = outcome.eventDropped
        report.content = outcome.content
        if outcome.content == nil { report.contentOff = noInspectContent ? "--no-inspect-content" : "off" }
        return report
    }
}

extension Telltale {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command under observation and say whether anything left this machine.",
            discussion: """
                Captures on every interface (loopback included) from before the command starts until \
                just after it ends, follows its whole process tree through the kernel's process events, \
                and prints the flows of that tree and a verdict. By default the tree may reach loopback \
                only; --policy ROLE applies that role's policy instead. Exit status: 0 clean, 3 policy \
                violated, 1 error. Needs root.

                Examples:
                  sudo telltale run -- python3 my_script.py
                  sudo telltale run --policy chatbot-ui --report audit -- ./my-chat-ui
                  sudo telltale run --isolate -- ./untrusted-tool
                  sudo telltale run --evidence run-1 -- ./my-chat-ui
                  sudo telltale verify run-1
                """
        )

        @OptionGroup var observation: ObservationOptions

        @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
        var command: [String] = []

        func validate() throws {
            // The command is taken verbatim after the options; `run --help` still means help.
            if let first = command.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(self) }
            if command.drop(while: { $0 == "--" }).isEmpty { throw ValidationError("give the command to run after --, e.g. telltale run -- curl http://127.0.0.1/") }
        }

        func run() throws {
            ProcessMemory.returnLargeBuffersWhenFreed()
            var command = self.command
            if command.first == "--" { command.removeFirst() }
            let outcome = try observation.observe(command)
            try observation.finish(observation.audit(kind: "run", command: command, outcome), outcome: outcome)
        }
    }
}
