import Foundation
import Glibc
public import ArgumentParser
public import FlowStore
import Monitor
import Posix
import Reporting
import Synchronization

extension Grouping: ExpressibleByArgument {}

/// Where the database is, for every command that reads it.
struct DatabaseOption: ParsableArguments {
    @Option(help: "Database file (the daemon's --db).")
    var db: String = DaemonConfiguration.defaultDatabase

    func open() throws -> FlowStore {
        do {
            return try FlowStore(path: db, readOnly: true)
        } catch {
            Output.error("telltale: \(error)")
            if let hint = DatabaseOption.accessHint(db) { Output.error("telltale: " + hint) }
            throw ExitCode(1)
        }
    }

    /// When this user may not read the database: who may, and how to join them; nil otherwise.
    static func accessHint(_ path: String) -> String? {
        // access(2) checks the real user and groups, as the open did.
        guard access(path, R_OK) != 0, errno == EACCES else { return nil }
        // The file's group, or its directory's when the directory cannot be searched.
        var info = stat()
        let directory = if let slash = path.lastIndex(of: "/") {
            slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            "."
        }
        guard stat(path, &info) == 0 || stat(directory, &info) == 0 else { return nil }
        guard info.st_gid != 0, let group = getgrgid(info.st_gid), let name = group.pointee.gr_name else {
            return "\(path) is readable by root only: run the command with sudo"
        }
        let groupName = String(cString: name)
        return "\(path) is readable by root and members of the `\(groupName)` group: "
            + "sudo adduser $USER \(groupName) (then log in again)"
    }
}

/// `--since`, `--from`, `--to`.
struct WindowOptions: ParsableArguments {
    @Option(help: "The window: the last DURATION, e.g. 15m, 1h or 7d.")
    var since: String?

    @Option(help: "The window starts at TIME: RFC 3339 (2026-11-29T10:00:00Z), a date (2026-11-29, UTC), or a duration ago (2h).")
    var from: String?

    @Option(help: "The window ends at TIME (same forms as --from).")
    var to: String?

    func validate() throws {
        if let since {
            let d: Int64
            do { d = try Quantity.duration(since) } catch { throw ValidationError("--since: \(error)") }
            if d == 0 { throw ValidationError("--since: expected a duration longer than zero, such as 15m or 7d") }
        }
        if since != nil && from != nil { throw ValidationError("--since and --from both set the start; give one") }
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, TimeWindow.time(value, now: 0) == nil {
                throw ValidationError("\(name): '\(value)' is not a time from 1678 to 2262 (2026-11-29T10:00:00Z, 2026-11-29, or a duration ago like 2h)")
            }
        }
    }

    func window(now: Int64) -> TimeWindow { TimeWindow(since: since, from: from, to: to, now: now) }
}

extension Telltale {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the flow report from the database.",
            discussion: """
                Groups flows by process (default), role, or destination, or lists them one by one \
                (--by flow, in the JSON contract with --format ndjson). Ends with the coverage line: the \
                share of bytes attributed to a process, and packets the capture dropped. Reads while the \
                daemon writes.

                Examples:
                  telltale report --since 1h
                  telltale report --by destination --from 2026-11-29 --format json
                  telltale report --by flow --since 10m --format ndjson
                  telltale report --every 1h --since 1d          bytes per program per hour, with sparklines
                  telltale report --every 1d --since 7d --by role --format csv
                  telltale report --html report.html --since 7d  one self-contained page with charts
                  telltale report --by flow --follow --format ndjson
                  telltale report --by flow --follow --after C0dNmbB6GHRa --format ndjson

                With --every, the window defaults to the last 24 buckets; a flow's bytes are spread over \
                the buckets its lifetime overlaps.

                With --follow, flows are printed as they finish, each once, in the order the database \
                numbered them when they ended (the "seq" key): open flows are not printed until they \
                end. Without --since, --from or --after it starts with flows finishing from now on. \
                --after UID (or --after-seq N) resumes after a flow printed before, so a shipper that \
                restarts prints nothing twice and misses nothing; without --follow it prints what \
                finished since then and exits.
                """
        )

        @OptionGroup var database: DatabaseOption
        @OptionGroup var window: WindowOptions

        @Option(help: "Group by program (what a person calls it: open-webui, not python3.11), process (executable), role or destination; or 'flow' to list flows.")
        var by: Grouping = .program

        @Option(help: "With --by flow: at most this many flows (the newest).")
        var limit: Int = 10_000

        @Option(name: .shortAndLong, help: "Output format: table, json, ndjson, csv; with --by flow also zeek (conn.log TSV) or zeek-json.")
        var format: OutputFormat = .table

        @Option(help: "Bytes per group in buckets of this length (1h, 1d, 15m, ...), with a sparkline per row on a terminal.")
        var every: String?

        @Option(help: "Write a self-contained HTML report with charts to FILE (loads nothing from anywhere).")
        var html: String?

        @Flag(help: "With --by flow: keep printing flows as they finish (each once), until interrupted.")
        var follow = false

        @Option(help: ArgumentHelp("With --by flow: only flows that finished after this flow (its uid).", valueName: "uid"))
        var after: String?

        @Option(name: .customLong("after-seq"), help: ArgumentHelp("With --by flow: only flows that finished after this number (the \"seq\" key).", valueName: "n"))
        var afterSequence: Int64?

        @Option(name: .customLong("poll-interval"), help: "With --follow: how often to look for finished flows.")
        var pollInterval: String = "500ms"

        func validate() throws {
            if let every {
                do { _ = try Quantity.duration(every, within: Self.bucketWidths) } catch { throw ValidationError("--every: \(error)") }
                if by == .flow { throw ValidationError("--every groups by process, role or destination, not flow") }
            }
            if html != nil && by == .flow { throw ValidationError("--html draws its own charts; give --by process, role or destination, or leave --by out") }
            if format.isFlowOnly && by != .flow {
                throw ValidationError("--format \(format.rawValue) lists flows: add --by flow")
            }
            let resumes = follow || after != nil || afterSequence != nil
            guard resumes else { return }
            if by != .flow { throw ValidationError("--follow, --after and --after-seq list flows: add --by flow") }
            if after != nil && afterSequence != nil { throw ValidationError("--after and --after-seq both set where to resume; give one") }
            if follow && (format == .table || format == .json) {
                throw ValidationError("--follow prints one flow a line: use --format ndjson, csv, zeek or zeek-json")
            }
            if window.to != nil { throw ValidationError("--to ends the window; --follow and --after read flows as they finish") }
            if let afterSequence, afterSequence < 0 { throw ValidationError("--after-seq: expected a number of zero or more") }
            if let after, !FlowRow.isUID(after) {
                throw ValidationError("--after: '\(after)' is not a flow uid (like C0dNmbB6GHRa)")
            }
            let interval: Int64
            do { interval = try Quantity.duration(pollInterval) } catch { throw ValidationError("--poll-interval: \(error)") }
            if interval < 10_000_000 || interval > 60_000_000_000 { throw ValidationError("--poll-interval: expected 10ms to 60s") }
        }

        /// The window, and for buckets its default: the last 24 buckets.
        func resolvedWindow(now: Int64, bucket: Int64?) -> TimeWindow {
            let w = window.window(now: now)
            // The last 24 buckets, the current one among them.
            guard let bucket else { return w }
            return w.startingAtLeast(24, bucketsOf: bucket, now: now)
        }

        func run() throws {
            let store = try database.open()
            if follow || after != nil || afterSequence != nil { return try finished(store) }
            let now = SystemClock.wallNanoseconds()
            let bucket = every.flatMap { try? Quantity.duration($0, within: Self.bucketWidths) }
            let w = resolvedWindow(now: now, bucket: bucket)
            if let html {
                try writeHTML(store: store, window: w, bucket: bucket, now: now, path: html)
                return
            }
            if let bucket {
                do {
                    let buckets = try Self.buckets(store: store, window: w, from: w.from ?? now, to: w.to ?? now, width: bucket)
                    var accumulator = TimeBuckets.Accumulator(buckets)
                    try store.forEachSpan(by: by, in: w) { accumulator.add($0) }
                    let series = accumulator.series
                    Output.write(GroupRenderer(format: format, terminal: Output.isTerminal, groupTitle: by.rawValue).render(series, buckets: buckets))
                    let line = GroupRenderer.coverageLine(try store.coverage(in: w))
                    if format == .table { Output.write(line + "\n") } else { Output.error(line) }
                    Output.flush()
                } catch {
                    Output.error("telltale: \(error)")
                    throw ExitCode(1)
                }
                return
            }
            do {
                if by == .flow {
                    let rows = try store.flows(in: w, limit: limit)
                    var renderer = FlowRenderer(format: format, terminal: Output.isTerminal, terminalWidth: Output.terminalWidth)
                    renderer.openedAt = SystemClock.wallNanoseconds()
                    Output.write(rows.isEmpty && format == .table ? "no flows in this window\n" : renderer.render(rows))
                } else {
                    let groups = try store.groups(by: by, in: w)
                    Output.write(GroupRenderer(format: format, terminal: Output.isTerminal, groupTitle: by.rawValue).render(groups))
                }
                let line = GroupRenderer.coverageLine(try store.coverage(in: w))
                if format == .table { Output.write(line + "\n") } else { Output.error(line) }
                let sessions = try store.sessions(in: w)
                if format == .table && !sessions.isEmpty {
                    Output.write("observed runs in this window (telltale run/infer):\n")
                    for s in sessions.suffix(10) {
                        Output.write("  #\(s.id) \(Timestamp.local(s.start)) \(s.kind) \(s.verdict ?? "?"), \(Count.text(s.flows, "flow")): "
                            + Sanitizer.clean(String(s.command.prefix(120))) + "\n")
                    }
                }
                Output.flush()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
        }

        /// Finished flows after a point, once each, in finished order; with --follow, until a signal.
        private func finished(_ store: FlowStore) throws {
            let start = SystemClock.wallNanoseconds()
            let w = window.window(now: start)
            var renderer = FlowRenderer(format: format)
            renderer.openedAt = start
            let stop = Atomic<Bool>(false)
            if follow { Signals.install(stop: { stop.store(true, ordering: .releasing) }, reload: nil) }
            let interval = (try? Quantity.duration(pollInterval)) ?? 500_000_000
            do {
                var cursor: Int64
                if let after {
                    switch try store.sequence(ofFlow: after) {
                    case .none:
                        Output.error("telltale: --after: no flow \(after) in \(store.path) (never written, or deleted by retention); resume with --after-seq or --since instead")
                        throw ExitCode(1)
                    case .some(.none):
                        Output.error("telltale: --after: flow \(after) has not finished yet, so it was never printed by --follow")
                        throw ExitCode(1)
                    case .some(.some(let n)):
                        cursor = n
                    }
                } else if let afterSequence {
                    cursor = afterSequence
                } else if let from = w.from {
                    cursor = try store.sequence(beforeFlowsEndingAt: from)
                } else if follow {
                    cursor = try store.lastSequence()
                } else {
                    cursor = 0
                }
                Output.write(renderer.header())
                Output.flush()
                var printed = 0
                while !stop.load(ordering: .acquiring) {
                    let rows = try store.finishedFlows(after: cursor, endingFrom: w.from, limit: 1_000)
                    for row in rows {
                        Output.write(renderer.streamRow(row, index: printed))
                        printed += 1
                    }
                    if let last = rows.last?.sequence { cursor = last }
                    Output.flush()
                    if rows.count == 1_000 { continue }
                    if !follow { break }
                    // A reader that went away (`| head`, a shipper that died) ends the follow.
                    var output = pollfd(fd: 1, events: 0, revents: 0)
                    if poll(&output, 1, 0) > 0 && output.revents & Int16(POLLERR | POLLHUP) != 0 { break }
                    // Sleep in short steps so that a signal ends the loop promptly.
                    var slept: Int64 = 0
                    while slept < interval && !stop.load(ordering: .acquiring) {
                        let step = min(interval - slept, 100_000_000)
                        usleep(UInt32(step / 1_000))
                        slept += step
                    }
                }
                Output.write(renderer.footer(rowCount: printed, closedAt: SystemClock.wallNanoseconds()))
                Output.flush()
            } catch let error as StoreError {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Is the daemon running, since when, and how is capture going?",
            discussion: """
                Reads the daemon's database: its heartbeat (written every few seconds while it runs), \
                its counters, and the last hour's coverage. When the daemon is not running, the counters \
                are those of its last run. Exit status 0 when the daemon is running, 3 when it is not \
                (also when there is no database yet), 1 on error.
                """
        )

        @OptionGroup var database: DatabaseOption

        @Option(name: .shortAndLong, help: "Output format: table (text) or json.")
        var format: TableOrJSON = .table

        func validate() throws {
        }

        func run() throws {
            guard access(database.db, F_OK) == 0 else {
                if format == .json {
                    var w = JSONWriter()
                    w.beginObject()
                    w.key("running"); w.bool(false)
                    w.key("database"); w.string(database.db)
                    w.key("database_exists"); w.bool(false)
                    w.endObject()
                    Output.write(w.text + "\n")
                } else {
                    Output.write("daemon: not running (no database at \(database.db): the daemon has not run with it; start it with: sudo systemctl start telltale, or telltale daemon --db \(database.db))\n")
                }
                Output.flush()
                throw ExitCode(3)
            }
            let store = try database.open()
            let now = SystemClock.wallNanoseconds()
            var isRunning = false
            do {
                let state = try store.daemonState()
                let coverage = try store.coverage(in: TimeWindow(from: now - 3_600_000_000_000))
                let flowCount = try store.flowCount()
                let standing = try store.standingVerdicts(in: .last(30 * 86_400_000_000_000, now: now))
                let running = state.map { kill(pid_t($0.pid), 0) == 0 && now - $0.heartbeat < 30_000_000_000 } ?? false
                isRunning = running
                if format == .json {
                    Output.write(Self.json(
                        state: state, running: running, path: store.path, size: store.fileSize, flows: flowCount, coverage: coverage,
                        standing: standing) + "\n")
                } else {
                    if let s = state {
                        if running {
                            Output.write("daemon: running (pid \(s.pid)), since \(Timestamp.local(s.started))\n")
                        } else {
                            Output.write("daemon: not running (last seen \(Timestamp.local(s.heartbeat)), pid \(s.pid))\n")
                            Output.write("its last run: from \(Timestamp.local(s.started)) to \(Timestamp.local(s.heartbeat)); the counts below are from then\n")
                        }
                        Output.write("interfaces: \(s.interfaces)\n")
                        Output.write("frames: \(s.frames)   drops: \(s.dropped)   flows written: \(s.flows)\n")
                        Output.write("store: \(s.storeState)\n")
                        if !s.attribution.isEmpty {
                            Output.write("attribution: \(s.attribution)   socket events dropped: \(s.eventDropped)\n")
                            Output.write("content: \(s.content)\(s.content == "off" ? " (telltale daemon --inspect-content)" : "   not inspected: \(ByteCount.text(s.contentDropped))")\n")
                        }
                    } else {
                        Output.write("daemon: never ran with this database\n")
                    }
                    Output.write("database: \(store.path), \(ByteCount.text(store.fileSize)), \(Count.text(flowCount, "flow"))\n")
                    Output.write("last hour: " + GroupRenderer.coverageLine(coverage) + "\n")
                    Output.write("last 30 days: " + StandingVerdict.summary(standing) + " (telltale verdicts)\n")
                }
                Output.flush()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            if !isRunning { throw ExitCode(3) }
        }

        static func json(
            state: DaemonState?, running: Bool, path: String, size: some BinaryInteger, flows: some BinaryInteger, coverage: Coverage,
            standing: [StandingVerdict]
        ) -> String {
            var w = JSONWriter()
            w.beginObject()
            w.key("running"); w.bool(running)
            w.key("database"); w.string(path)
            w.key("database_exists"); w.bool(true)
            w.key("database_bytes"); w.int(size)
            w.key("flows_stored"); w.int(flows)
            w.key("daemon")
            if let s = state {
                w.beginObject()
                w.key("pid"); w.int(s.pid)
                w.key("started"); w.string(Timestamp.rfc3339(s.started))
                w.key("last_heartbeat"); w.string(Timestamp.rfc3339(s.heartbeat))
                w.key("interfaces"); w.string(s.interfaces)
                w.key("frames"); w.int(s.frames)
                w.key("dropped"); w.int(s.dropped)
                w.key("flows_written"); w.int(s.flows)
                w.key("store"); w.string(s.storeState)
                w.key("attribution"); w.string(s.attribution.isEmpty ? nil : s.attribution)
                w.key("event_dropped"); w.int(s.eventDropped)
                w.key("content"); w.string(s.content)
                w.key("content_dropped"); w.int(s.contentDropped)
                w.endObject()
            } else {
                w.null()
            }
            w.key("last_hour")
            w.beginObject()
            w.key("flows"); w.int(coverage.flows)
            w.key("bytes"); w.int(coverage.bytes)
            w.key("attributed_bytes"); w.int(coverage.attributedBytes)
            w.key("kernel_event_bytes"); w.int(coverage.kernelEventBytes)
            w.key("kernel_dropped"); w.int(coverage.dropped)
            w.key("interface_dropped"); w.int(coverage.interfaceDropped)
            w.key("queue_dropped"); w.int(coverage.queueDropped)
            w.key("event_dropped"); w.int(coverage.eventDropped)
            w.endObject()
            // Programs of the last 30 days by how far they reached (telltale verdicts has each one).
            let programs = standing.filter { $0.grouping == "program" }
            w.key("last_30_days")
            w.beginObject()
            w.key("loopback_only"); w.int(programs.filter { $0.reach == .loopbackOnly }.count)
            w.key("local_network"); w.int(programs.filter { $0.reach == .localNetwork }.count)
            w.key("reached_internet"); w.beginArray()
            for p in programs where p.reach == .internet { w.string(p.key) }
            w.endArray()
            w.endObject()
            w.endObject()
            return w.text
        }
    }
}


extension Telltale.Report {
    /// What `--every` takes: a second to a year.
    static let bucketWidths: ClosedRange<Int64> = 1_000_000_000...(366 * 86_400_000_000_000)

    /// The buckets of `from`…`to`, or the report refused with what to change.
    static func buckets(store: FlowStore, window: TimeWindow, from: Int64, to: Int64, width: Int64) throws -> TimeBuckets {
        do {
            return try store.buckets(in: window, from: from, to: to, width: width)
        } catch let problem as TooManyBuckets {
            Output.error("telltale: \(problem)")
            throw ExitCode(1)
        }
    }

    /// Flows shown in the HTML report's table at most (the newest).
    static let htmlFlowLimit = 2_000

    func writeHTML(store: FlowStore, window w: TimeWindow, bucket: Int64?, now: Int64, path: String) throws {
        do {
            let (from, to) = try store.chartSpan(of: w, now: now)
            // About 48 bars unless --every says otherwise, on a round length.
            let width = bucket ?? FlowStore.chartWidth(from: from, to: to)
            let buckets = try Self.buckets(store: store, window: w, from: from, to: to, width: width)
            let coverage = try store.coverage(in: w)
            var accumulator = TimeBuckets.Accumulator(buckets)
            try store.forEachSpan(by: by == .flow ? .program : by, in: w) { accumulator.add($0) }
            var report = HTMLReport(
                from: from, to: to, generated: now, buckets: buckets,
                programs: accumulator.series,
                scopes: try store.scopeTotals(in: w).map {
                    HTMLReport.ScopeTotal(scope: $0.scope, bytesOut: $0.bytesOut, bytesIn: $0.bytesIn, destinations: $0.destinations)
                },
                alerts: try store.alerts(in: w, limit: 5_000), coverage: coverage,
                flows: try store.flows(in: w, limit: Self.htmlFlowLimit), flowCount: Int(coverage.flows))
            report.verdicts = try store.standingVerdicts(in: w)
            report.title = "Telltale report: bytes per \(by == .flow ? "program" : by.rawValue)"
            let text = report.render()
            // Like the database it is drawn from: for its owner and group only.
            do { try PrivateFile.write(Array(text.utf8), to: path, mode: 0o640) } catch {
                Output.error("telltale: cannot write \(path): \(error)")
                throw ExitCode(1)
            }
            Output.error("telltale: wrote \(path) (\(ByteCount.text(Int64(text.utf8.count))), \(coverage.flows) flows, \(buckets.count) buckets of \(GroupRenderer.widthText(width)))")
        } catch let error as StoreError {
            Output.error("telltale: \(error)")
            throw ExitCode(1)
        }
    }
}
