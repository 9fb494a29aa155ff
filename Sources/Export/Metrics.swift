public import Reporting
import PacketParsing

/// The daemon's figures in Prometheus' text exposition format (version 0.0.4): bytes and flows by
/// program, role and scope, alerts by severity, drops, coverage and the daemon's own health.
///
/// Bytes count as they are seen: an open flow's checkpoint adds what it carried since the last one,
/// so a long download shows up while it runs, and the total over a flow equals its row's bytes.
/// Flows count once, when they end. Cardinality is bounded: the first `programLimit` programs get a
/// label of their own, every later one is summed under `program="other"`; roles and scopes are
/// small sets by construction.
///
/// Used by one thread (the export stage's).
public struct Metrics {
    public struct Series: Hashable, Sendable {
        public var program: String
        public var role: String
        public var scope: String
    }

    public var programLimit: Int
    private var programs = Set<String>()
    private(set) var bytesOut: [Series: Int64] = [:]
    private(set) var bytesIn: [Series: Int64] = [:]
    private(set) var packetsOut: [Series: Int64] = [:]
    private(set) var packetsIn: [Series: Int64] = [:]
    private(set) var flows: [Series: Int64] = [:]
    /// What each open flow had carried at its last checkpoint, to count only what is new.
    private var seen: [String: (bytesOut: Int64, bytesIn: Int64, packetsOut: Int64, packetsIn: Int64)] = [:]
    private(set) var attributedBytes: Int64 = 0
    private(set) var allBytes: Int64 = 0
    /// How far each program label's flows reached since the start, and when one last reached the
    /// internet: the standing verdict, live (`telltale verdicts` gives it over any window).
    private(set) var reach: [String: StandingVerdict.Reach] = [:]
    private(set) var lastInternet: [String: Int64] = [:]
    /// Flows of programs summed under `other` because of the label limit.
    public private(set) var programsOverLimit: Int64 = 0

    public init(programLimit: Int = 50) {
        self.programLimit = programLimit
    }

    /// The program label of a flow: its program identity (`open-webui`), else its executable's name,
    /// else its command name; `unattributed` without a process.
    func programLabel(_ row: FlowRow) -> String {
        guard let p = row.process else { return "unattributed" }
        let name = p.displayName
        if programs.contains(name) { return name }
        return "other"
    }

    /// Counts a batch of written flows: ended ones and open ones' checkpoints.
    public mutating func record(_ rows: [(row: FlowRow, isOpen: Bool)]) {
        for (row, isOpen) in rows {
            if let p = row.process, programs.count < programLimit {
                programs.insert(p.displayName)
            }
            let program = programLabel(row)
            if program == "other" && !isOpen { programsOverLimit += 1 }
            let series = Series(
                program: program, role: row.process.map { $0.role ?? FlowRow.noRole } ?? "unattributed", scope: row.scope.rawValue)
            let before = seen[row.uid] ?? (0, 0, 0, 0)
            // Counters only grow: a checkpoint never lowers a flow's counts, but guard anyway.
            let dOut = max(0, row.bytesOut - before.bytesOut), dIn = max(0, row.bytesIn - before.bytesIn)
            bytesOut[series, default: 0] += dOut
            bytesIn[series, default: 0] += dIn
            packetsOut[series, default: 0] += max(0, row.packetsOut - before.packetsOut)
            packetsIn[series, default: 0] += max(0, row.packetsIn - before.packetsIn)
            allBytes += dOut + dIn
            if row.process != nil { attributedBytes += dOut + dIn }
            let farthest = StandingVerdict.Reach(row.scope)
            reach[program] = max(reach[program] ?? .loopbackOnly, farthest)
            if farthest == .internet { lastInternet[program] = max(lastInternet[program] ?? 0, row.end) }
            if isOpen {
                seen[row.uid] = (max(row.bytesOut, before.bytesOut), max(row.bytesIn, before.bytesIn),
                                 max(row.packetsOut, before.packetsOut), max(row.packetsIn, before.packetsIn))
            } else {
                seen[row.uid] = nil
                flows[series, default: 0] += 1
            }
        }
        // An open flow whose end was dropped on the way would stay forever: bound the table.
        if seen.count > 500_000 { seen.removeAll(keepingCapacity: false) }
    }

    /// The exposition text. `exportDropped` and `ipfix` are the export stage's own counters.
    public func render(health: DaemonHealth, exportDropped: Int64, ipfix: (sent: Int64, dropped: Int64)?, now: Int64) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)] = [], _ value: String) {
            if labels.isEmpty {
                out += "\(name) \(value)\n"
            } else {
                out += name + "{" + labels.map { "\($0.0)=\"\(Metrics.escape($0.1))\"" }.joined(separator: ",") + "} \(value)\n"
            }
        }
        func seriesLabels(_ s: Series) -> [(String, String)] { [("program", s.program), ("role", s.role), ("scope", s.scope)] }
        let ordered = Set(bytesOut.keys).union(bytesIn.keys).union(flows.keys).sorted {
            ($0.program, $0.role, $0.scope) < ($1.program, $1.role, $1.scope)
        }

        family("telltale_flow_bytes_total", "counter", "Bytes at the IP layer, by program, role, destination scope and direction (out: sent by this machine).")
        for s in ordered {
            sample("telltale_flow_bytes_total", seriesLabels(s) + [("direction", "out")], String(bytesOut[s] ?? 0))
            sample("telltale_flow_bytes_total", seriesLabels(s) + [("direction", "in")], String(bytesIn[s] ?? 0))
        }
        family("telltale_flow_packets_total", "counter", "IP packets, by program, role, destination scope and direction.")
        for s in ordered {
            sample("telltale_flow_packets_total", seriesLabels(s) + [("direction", "out")], String(packetsOut[s] ?? 0))
            sample("telltale_flow_packets_total", seriesLabels(s) + [("direction", "in")], String(packetsIn[s] ?? 0))
        }
        family("telltale_flows_total", "counter", "Flows that ended, by program, role and destination scope.")
        for s in ordered { sample("telltale_flows_total", seriesLabels(s), String(flows[s] ?? 0)) }
        family("telltale_program_label_overflow_flows_total", "counter", "Flows counted under program=\"other\" because the program label limit was reached.")
        sample("telltale_program_label_overflow_flows_total", [], String(programsOverLimit))

        family("telltale_program_reach", "gauge", "How far a program's flows reached since the daemon started, 1 on its farthest: loopback-only, local-network or internet (its standing verdict; telltale verdicts gives it over any window).")
        for (program, r) in reach.sorted(by: { $0.key < $1.key }) {
            sample("telltale_program_reach", [("program", program), ("reach", r.rawValue)], "1")
        }
        family("telltale_program_last_internet_timestamp_seconds", "gauge", "When a program's flow last reached the internet (Unix time).")
        for (program, t) in lastInternet.sorted(by: { $0.key < $1.key }) {
            sample("telltale_program_last_internet_timestamp_seconds", [("program", program)], String(t / 1_000_000_000))
        }

        family("telltale_alerts_total", "counter", "Alerts raised, by severity.")
        for severity in Set(["info", "low", "medium", "high", "critical"]).union(health.alertsBySeverity.keys).sorted() {
            sample("telltale_alerts_total", [("severity", severity)], String(health.alertsBySeverity[severity] ?? 0))
        }

        family("telltale_capture_frames_total", "counter", "Frames read from the capture.")
        sample("telltale_capture_frames_total", [], String(health.frames))
        family("telltale_capture_packets_received_total", "counter", "Packets the kernel handed to the capture.")
        sample("telltale_capture_packets_received_total", [], String(health.received))
        family("telltale_capture_packets_dropped_total", "counter", "Packets dropped before the capture read them: by the kernel's capture buffer or the interface.")
        sample("telltale_capture_packets_dropped_total", [("where", "kernel")], String(health.kernelDropped))
        sample("telltale_capture_packets_dropped_total", [("where", "interface")], String(health.interfaceDropped))
        family("telltale_flows_dropped_total", "counter", "Flows dropped on the way to the database (a full queue).")
        sample("telltale_flows_dropped_total", [], String(health.flowQueueDropped))
        family("telltale_socket_events_dropped_total", "counter", "Kernel socket events lost (a full ring buffer).")
        sample("telltale_socket_events_dropped_total", [], String(health.socketEventsDropped))
        if let contentDropped = health.contentDropped {
            family("telltale_content_dropped_bytes_total", "counter", "Payload bytes content inspection could not read (a full queue, a trimmed capture, probe drops).")
            sample("telltale_content_dropped_bytes_total", [], String(contentDropped))
            family("telltale_content_prompts_total", "counter", "Prompts to model runtimes fingerprinted (never kept as text).")
            sample("telltale_content_prompts_total", [], String(health.promptsFingerprinted))
        }
        family("telltale_export_dropped_total", "counter", "Flows the export stage dropped: its queue was full, or the IPFIX collector could not be reached.")
        sample("telltale_export_dropped_total", [("exporter", "queue")], String(exportDropped))
        if let ipfix {
            sample("telltale_export_dropped_total", [("exporter", "ipfix")], String(ipfix.dropped))
            family("telltale_ipfix_flows_exported_total", "counter", "Flows sent to the IPFIX collector.")
            sample("telltale_ipfix_flows_exported_total", [], String(ipfix.sent))
        }

        family("telltale_attributed_bytes_ratio", "gauge", "Share of bytes since the start attributed to a process (coverage); 1 when no byte was seen.")
        sample("telltale_attributed_bytes_ratio", [], allBytes == 0 ? "1" : Metrics.decimal(Double(attributedBytes) / Double(allBytes)))

        family("telltale_up", "gauge", "1 while the daemon runs (the textfile keeps the last value; compare telltale_last_update_timestamp_seconds).")
        sample("telltale_up", [], "1")
        family("telltale_start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.")
        sample("telltale_start_time_seconds", [], Metrics.seconds(health.started))
        family("telltale_last_update_timestamp_seconds", "gauge", "When these figures were produced, in seconds since the epoch.")
        sample("telltale_last_update_timestamp_seconds", [], Metrics.seconds(now))
        family("telltale_store_last_write_timestamp_seconds", "gauge", "When the database last committed flows, in seconds since the epoch (0: not yet).")
        sample("telltale_store_last_write_timestamp_seconds", [], Metrics.seconds(health.lastWrite))
        family("telltale_store_flows_written_total", "counter", "Flows committed to the database since the start.")
        sample("telltale_store_flows_written_total", [], String(health.flowsWritten))
        family("telltale_store_flows_waiting", "gauge", "Flows waiting in memory to be written.")
        sample("telltale_store_flows_waiting", [], String(health.flowsWaiting))
        family("telltale_store_healthy", "gauge", "1 when the database is being written, 0 when writing fails (see the state label).")
        sample("telltale_store_healthy", [("state", health.storeState)], health.storeState == "ok" ? "1" : "0")
        family("telltale_attribution_info", "gauge", "The attribution source in use (kernel-events, polling or off).")
        sample("telltale_attribution_info", [("source", health.attribution)], "1")
        return out
    }

    /// Escapes a label value: backslash, double quote and line feed (the format's rules); other
    /// control characters are dropped.
    static func escape(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func seconds(_ ns: Int64) -> String {
        let ms = ns / 1_000_000
        let fraction = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    static func decimal(_ value: Double) -> String {
        String((value * 1_000_000).rounded() / 1_000_000)
    }
}
