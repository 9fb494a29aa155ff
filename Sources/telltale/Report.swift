import Glibc
public import ArgumentParser
public import FlowStore
import Flows
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
            throw ExitCode(1)
        }
    }
}

/// `--since`, `--from`, `--to`.
struct WindowOptions: ParsableArguments {
    @Option(help: "Only flows of the last DURATION, e.g. 15m, 1h, 7d.")
    var since: String?

    @Option(help: "Only flows after TIME: RFC 3339 (2026-11-29T10:00:00Z), a date (2026-11-29, UTC), or a duration ago (2h).")
    var from: String?

    @Option(help: "Only flows before TIME (same forms as --from).")
    var to: String?

    func validate() throws {
        if let since {
            do { _ = try Quantity.duration(since) } catch { throw ValidationError("--since: \(error)") }
        }
        if since != nil && from != nil { throw ValidationError("--since and --from both set the start; give one") }
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, WindowOptions.time(value, now: 0) == nil {
                throw ValidationError("\(name): '\(value)' is not a time from 1678 to 2262 (2026-11-29T10:00:00Z, 2026-11-29, or a duration ago like 2h)")
            }
        }
    }

    static func time(_ text: String, now: Int64) -> Int64? {
        if let exact = Timestamp.parse(text) { return exact }
        if text.count == 10, let midnight = Timestamp.parse(text + "T00:00:00Z") { return midnight }
        // Both are at least zero, so the difference cannot overflow.
        if let ago = try? Quantity.duration(text) { return now - ago }
        return nil
    }

    func window(now: Int64) -> TimeWindow {
        var w = TimeWindow()
        if let since, let d = try? Quantity.duration(since) { w.from = now - d }
        if let from { w.from = WindowOptions.time(from, now: now) }
        if let to { w.to = WindowOptions.time(to, now: now) }
        return w
    }
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
                  telltale report --by flow --follow --format ndjson
                  telltale report --by flow --follow --after C0dNmbB6GHRa --format ndjson

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

        @Option(help: "Group by process, role or destination; or 'flow' to list flows.")
        var by: Grouping = .process

        @Option(help: "With --by flow: at most this many flows (the newest).")
        var limit: Int = 10_000

        @Option(name: .shortAndLong, help: "Output format: table, json, ndjson, csv; with --by flow also zeek (conn.log TSV) or zeek-json.")
        var format: OutputFormat = .table

        @Flag(help: "With --by flow: keep printing flows as they finish (each once), until interrupted.")
        var follow = false

        @Option(help: ArgumentHelp("With --by flow: only flows that finished after this flow (its uid).", valueName: "uid"))
        var after: String?

        @Option(name: .customLong("after-seq"), help: ArgumentHelp("With --by flow: only flows that finished after this number (the \"seq\" key).", valueName: "n"))
        var afterSequence: Int64?

        @Option(name: .customLong("poll-interval"), help: "With --follow: how often to look for finished flows.")
        var pollInterval: String = "500ms"

        func validate() throws {
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
            if let after, FlowRecord.uid(fromText: after) == nil {
                throw ValidationError("--after: '\(after)' is not a flow uid (like C0dNmbB6GHRa)")
            }
            let interval: Int64
            do { interval = try Quantity.duration(pollInterval) } catch { throw ValidationError("--poll-interval: \(error)") }
            if interval < 10_000_000 || interval > 60_000_000_000 { throw ValidationError("--poll-interval: expected 10ms to 60s") }
        }

        func run() throws {
            let store = try database.open()
            if follow || after != nil || afterSequence != nil { return try finished(store) }
            let w = window.window(now: SystemClock.wallNanoseconds())
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
                        Output.write("  #\(s.id) \(Timestamp.rfc3339(s.start)) \(s.kind) \(s.verdict ?? "?"), \(s.flows) flows: "
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
            discussion: "Exit status 0 when the daemon is running, 3 when it is not, 1 on error."
        )

        @OptionGroup var database: DatabaseOption

        func run() throws {
            let store = try database.open()
            let now = SystemClock.wallNanoseconds()
            do {
                let state = try store.daemonState()
                let coverage = try store.coverage(in: TimeWindow(from: now - 3_600_000_000_000))
                var running = false
                if let s = state {
                    running = kill(pid_t(s.pid), 0) == 0 && now - s.heartbeat < 30_000_000_000
                    Output.write(running ? "daemon: running (pid \(s.pid))\n" : "daemon: not running (last seen \(Timestamp.rfc3339(s.heartbeat)), pid \(s.pid))\n")
                    Output.write("since: \(Timestamp.rfc3339(s.started))\n")
                    Output.write("interfaces: \(s.interfaces)\n")
                    Output.write("frames: \(s.frames)   drops: \(s.dropped)   flows written: \(s.flows)\n")
                    Output.write("store: \(s.storeState)\n")
                    if !s.attribution.isEmpty {
                        Output.write("attribution: \(s.attribution)   socket events dropped: \(s.eventDropped)\n")
                    }
                } else {
                    Output.write("daemon: never ran with this database\n")
                }
                Output.write("database: \(store.path), \(ByteCount.text(store.fileSize)), \(try store.flowCount()) flows\n")
                Output.write("last hour: " + GroupRenderer.coverageLine(coverage) + "\n")
                Output.flush()
                if !running { throw ExitCode(3) }
            } catch let error as StoreError {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
