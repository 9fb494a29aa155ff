public import Capture
import Foundation
public import Flows
public import Logging
public import PacketParsing
import Posix
public import ProcessAttribution
public import Reporting
public import Policy

/// Runs a command under observation: captures on every interface (loopback included) from before
/// the command starts until shortly after it ends, attributes every flow, and sorts the flows of the
/// command's process tree from the rest of the machine's traffic.
public final class ObservedRun {
    public struct Options: Sendable {
        public var command: [String]
        /// Run the command in a new network namespace with loopback only, and capture there.
        public var isolate = false
        /// Keep the command's standard output (for `infer`, which reads the runner's JSON).
        public var captureOutput = false
        /// How long to keep capturing after the command exits, for its last packets.
        public var grace: Double = 0.5
        /// Attribute from the kernel's socket events when they load (false: polling only).
        public var kernelEvents = true
        /// The rules that give programs their roles (the daemon's: configured, installed or built in).
        public var rules: RuleEngine?
        /// The run's policy: it gives every flow its verdict (see `RunPolicy`).
        public var policy: RuleEngine?
        /// Content evidence (on by default: the person asked to be watched).
        public var content: ContentSettings? = {
            var settings = ContentSettings()
            settings.enabled = true
            return settings
        }()
        /// Copy every frame of the run, as captured, to a new pcapng file at this path.
        public var evidenceCapture: String?
        public init(command: [String]) { self.command = command }
    }

    /// What happened: the window, the tree's flows, the rest, and the capture's health.
    public struct Outcome: Sendable {
        public var start: Int64
        public var end: Int64
        public var exitStatus: Int32
        public var output: [UInt8]
        public var rootPid: Int32
        public var interfaces: [String]
        public var isolated: Bool
        /// Flows of the command's process tree.
        public var treeFlows: [FlowRow]
        /// Flows of other processes on the machine in the window.
        public var otherFlows: [FlowRow]
        /// Flows no process could be found for, in the window.
        public var unattributedFlows: [FlowRow]
        public var counters: PipelineCounters
        public var statistics: CaptureStatistics
        public var attributionDropped: Int64
        public var usesProcessEvents: Bool
        /// How flows were attributed: `kernel socket events`, or `polling (why)`.
        public var attribution: String
        /// Socket events the kernel dropped during the run.
        public var eventDropped: Int64
        /// What content inspection saw (nil when it was off).
        public var content: AuditReport.ContentSection?
        /// What the copy of the frames holds, with `evidenceCapture`.
        public var evidenceCapture: CaptureTap.Summary?
    }

    public struct RunError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs the command to its end and returns the evidence. Blocks the calling thread.
    public func run() throws -> Outcome {
        let namespace = options.isolate ? "telltale-run-\(getpid())" : nil
        defer { if let namespace, FileManager.default.fileExists(atPath: "/run/netns/\(namespace)") { _ = try? ObservedRun.shell(["ip", "netns", "del", namespace]) } }
        if let namespace { try ObservedRun.makeIsolatedNamespace(namespace) }

        var pipelineOptions = LivePipeline.Options()
        pipelineOptions.namespace = namespace  // every interface (any), loopback included, unless isolated
        pipelineOptions.kernelEvents = options.kernelEvents
        pipelineOptions.content = options.content
        pipelineOptions.evidenceCapture = options.evidenceCapture
        // Short timeouts: flows of a short run end while it lasts; all of them end at the stop anyway.
        pipelineOptions.timeouts = FlowTimeouts(tcpIdle: 30 * FlowTimeouts.second, udpIdle: 10 * FlowTimeouts.second, active: 0)
        let pipeline: LivePipeline
        do {
            pipeline = try LivePipeline(options: pipelineOptions, rules: options.rules, policyOverlay: options.policy, logger: logger)
        } catch {
            throw RunError(message: "\(error)")
        }
        defer { pipeline.close() }
        guard let worker = pipeline.attribution else { throw RunError(message: "attribution is off") }
        var decided: [LivePipeline.Decided] = []
        // The ring is open from the pipeline's start; the command starts only once the capture thread
        // drains it, so a burst from its first instruction meets a reader, not a ring filling alone.
        guard pipeline.waitUntilDraining() else {
            pipeline.stop.trigger()
            throw RunError(message: "the capture did not start within 5 seconds")
        }

        let start = SystemClock.wallNanoseconds()
        var command = options.command
        if let namespace { command = ["ip", "netns", "exec", namespace] + command }
        let child: ChildProcess
        do {
            child = try ChildProcess(command, output: options.captureOutput ? .pipe : .inherit)
        } catch {
            pipeline.stop.trigger()
            throw RunError(message: error.description)
        }
        var output: [UInt8] = []
        if options.captureOutput {
            // Drain the pipe while the command runs, or a large output would block it.
            output = child.readOutput()
        }
        let status = child.wait()
        let end = SystemClock.wallNanoseconds()
        usleep(UInt32(options.grace * 1_000_000))
        pipeline.stop.trigger()
        // What content inspection found in a flow is handed out with whichever of its batches came
        // after the finding: its start, an update or its end. All of them count.
        var findings: [String: [ContentInspector.Finding]] = [:]
        while true {
            let batch = pipeline.next(waitMilliseconds: 20)
            decided += batch.flows
            for item in batch.started + batch.flows where !item.findings.isEmpty {
                findings[item.row.uid, default: []] += item.findings
            }
            if batch.isLast { break }
        }

        var leaks: [AuditReport.ContentSection.Leak] = []
        for item in decided where !item.isOpen && item.row.scope != .loopback {
            for finding in findings[item.row.uid] ?? [] {
                let alert = AlertStage.contentAlert(item.row, finding)
                if let evidence = alert.content {
                    leaks.append(AuditReport.ContentSection.Leak(
                        flowUID: item.row.uid, program: alert.program ?? "?", destination: alert.destination, evidence: evidence))
                }
            }
        }
        var tree: [FlowRow] = [], others: [FlowRow] = [], unattributed: [FlowRow] = []
        var ancestry: [Int32: Bool] = [:]
        for item in decided where !item.isOpen {
            let row = item.row
            if let process = row.process {
                let direct = process.ppid.map { Int32($0) == child.pid } ?? false
                if direct || isInTree(Int32(process.pid), root: child.pid, attributor: worker.attributor, memo: &ancestry) {
                    tree.append(row)
                } else {
                    others.append(row)
                }
            } else {
                unattributed.append(row)
            }
        }
        let (counters, statistics) = pipeline.snapshot
        return Outcome(
            start: start, end: end, exitStatus: status, output: output, rootPid: child.pid,
            interfaces: namespace.map { ["lo of network namespace \($0) (its only interface)"] } ?? ["every interface (any), loopback included"],
            isolated: namespace != nil, treeFlows: tree.sorted { $0.start < $1.start },
            otherFlows: others.sorted { $0.start < $1.start }, unattributedFlows: unattributed.sorted { $0.start < $1.start },
            counters: counters, statistics: statistics, attributionDropped: worker.dropped,
            usesProcessEvents: worker.attributor.usesProcessEvents,
            attribution: pipeline.attributionState ?? "off",
            eventDropped: worker.eventsDropped,
            content: pipeline.content.map { inspector in
                AuditReport.ContentSection(
                    prompts: inspector.promptsSeen.map {
                        AuditReport.ContentSection.Prompt(time: $0.time, requester: $0.requester, runtime: $0.runtime, endpoint: $0.endpoint, words: $0.words)
                    },
                    leaks: leaks, droppedBytes: inspector.counters.droppedBytes, tlsProbes: pipeline.tlsProbeState)
            },
            evidenceCapture: pipeline.evidenceCapture)
    }

    /// Whether `pid` is the root or descends from it, following parents as attribution captured them.
    func isInTree(_ pid: Int32, root: Int32, attributor: Attributor, memo: inout [Int32: Bool]) -> Bool {
        var chain: [Int32] = []
        var current = pid
        var answer = false
        for _ in 0..<64 {
            if current == root { answer = true; break }
            if let known = memo[current] { answer = known; break }
            chain.append(current)
            guard current > 1, let identity = attributor.identity(pid: current) else { break }
            current = identity.ppid
        }
        for pid in chain { memo[pid] = answer }
        return answer
    }

    static func makeIsolatedNamespace(_ name: String) throws {
        if FileManager.default.fileExists(atPath: "/run/netns/\(name)") { _ = try? shell(["ip", "netns", "del", name]) }
        for command in [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"]] {
            let status = try shell(command)
            guard status == 0 else {
                throw RunError(message: "--isolate: '\(command.joined(separator: " "))' failed (status \(status)); it needs root and iproute2")
            }
        }
    }

    @discardableResult
    static func shell(_ command: [String]) throws -> Int32 {
        let child = try ChildProcess(command)
        return child.wait()
    }
}

extension ObservedRun {
    /// The policies a run may be judged by: `loopback-only` (the default) and one per built-in role.
    public static var policyNames: [String] { RunPolicy.names }

    /// A policy said for the audit: what it allows, and its rule set.
    public static func describePolicy(_ name: String) -> String {
        switch name {
        case "loopback-only": "loopback only, rule set \(RunPolicy.rulePrefix)loopback-only"
        case "chatbot-ui": "role chatbot-ui: loopback and LAN, rule set \(RunPolicy.rulePrefix)chatbot-ui"
        default: "role \(name): loopback only, rule set \(RunPolicy.rulePrefix)\(name)"
        }
    }
}

extension ObservedRun.Options {
    /// Judges the run by the policy `name` (one of `ObservedRun.policyNames`), with the programs'
    /// roles from the rules at `rulesPath` loaded as the daemon loads them (nil: the installed
    /// directory, else the built-in pack). Throws the problems of rules that do not load.
    public mutating func judge(policy name: String, rules rulesPath: String?) throws(RulesError) {
        rules = try RulesCommand.engine(rulesPath)
        policy = RunPolicy.engine(name)
    }
}
