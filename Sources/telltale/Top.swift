public import ArgumentParser
import Dispatch
import FlowStore
import Foundation
import Logging
import Monitor
import Posix
public import Reporting
#if canImport(Glibc)
import Glibc
#endif

extension TopView: ExpressibleByArgument {}
extension TopSort: ExpressibleByArgument {}

extension Telltale {
    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A live, full-screen view of what each program sends and receives.",
            discussion: """
                One row per program (per role or per destination by a key): bytes per second out and in, \
                totals since top started, the destinations with their hostnames and scopes. Alerts (!) and \
                traffic no process was found for (?) stand out; the status line gives the coverage and the \
                drops. Press ? for the keys.

                Reads the daemon's database while the daemon writes when a daemon is running with it \
                (--db); otherwise captures by itself (root or CAP_NET_RAW), through the same pipeline as \
                the daemon. The first line says which. --source chooses.

                Examples:
                  telltale top
                  telltale top --db /tmp/flows.db --view destination
                  telltale top --once --format json       one snapshot after --duration seconds
                """
        )

        enum Source: String, ExpressibleByArgument, CaseIterable {
            case auto, daemon, capture
        }

        @OptionGroup var database: DatabaseOption

        @Option(help: "Where flows come from: auto (the daemon's database when a daemon runs, else a capture of our own), daemon, or capture.")
        var source: Source = .auto

        @Option(help: "Group by program, role or destination at start (keys p, r, d switch).")
        var view: TopView = .program

        @Option(help: "Order at start: rate-out, rate-in, total or name (keys o, i, t, n).")
        var sort: TopSort = .rateOut

        @Option(help: "Seconds between refreshes.")
        var interval: Double = 1

        @Flag(help: "Print one snapshot after --duration seconds and exit (no full screen).")
        var once = false

        @Option(help: "With --once: seconds to watch before the snapshot (rates need a few: about 12 from the daemon's database, 8 capturing).")
        var duration: Double = 5

        @Option(name: .shortAndLong, help: "With --once: table or json.")
        var format: TableOrJSON = .table

        @Option(name: [.customShort("i"), .customLong("interface")], help: "When capturing: interface to capture on (repeatable); default: all.")
        var interfaces: [String] = []

        func validate() throws {
            guard interval.isFinite, interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
            guard duration.isFinite, duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be between 0 and 86400 seconds") }
            if !once && format != .table { throw ValidationError("--format json needs --once (the live view is a table)") }
        }

        func run() throws {
            ProcessMemory.returnLargeBuffersWhenFreed()
            let feed: TopFeed
            do {
                feed = try TopFeed.open(source: source, database: database.db, interfaces: interfaces.isEmpty ? ["any"] : interfaces)
            } catch {
                Output.error("telltale: \(error)")
                // Like report and status: who may read the daemon's database, and how to join them.
                if let hint = DatabaseOption.accessHint(database.db) { Output.error("telltale: " + hint) }
                throw ExitCode(1)
            }
            defer { feed.close() }
            let started = SystemClock.wallNanoseconds()
            var model = TopModel(started: started, window: feed.window, lag: feed.lag)
            let step = Int64(interval * 1e9)
            if once {
                try runOnce(feed: feed, model: &model, step: step)
            } else {
                try runScreen(feed: feed, model: &model, step: step)
            }
        }

        func runOnce(feed: TopFeed, model: inout TopModel, step: Int64) throws {
            let stop = StopSignal()
            Signals.stopOnTermination(stop)
            let end = model.started + Int64(duration * 1e9)
            while true {
                let now = SystemClock.wallNanoseconds()
                feed.poll(into: &model, now: now)
                if now >= end || stop.isTriggered || feed.ended { break }
                usleep(UInt32(min(step, end - now) / 1000))
            }
            let now = SystemClock.wallNanoseconds()
            let status = feed.status(model)
            let entries = model.entries(view, sort: sort, now: now)
            if format == .json {
                Output.write(TopEntry.snapshotJSON(entries, view: view, status: status, started: model.started, now: now))
            } else {
                var screen = TopScreen(width: Output.terminalWidth, height: entries.count + 5, colour: false)
                screen.view = view
                screen.sort = sort
                Output.write(screen.lines(entries, status: status, clock: Timestamp.rfc3339(now)).joined(separator: "\n") + "\n")
            }
            Output.flush()
        }

        func runScreen(feed: TopFeed, model: inout TopModel, step: Int64) throws {
            let terminal: Terminal
            do {
                terminal = try Terminal()
                try terminal.enter()
            } catch {
                Output.error("telltale: \(error)")
                throw ExitCode(1)
            }
            defer { terminal.restore() }
            let size = terminal.size
            var screen = TopScreen(width: size.width, height: size.height, colour: getenv("NO_COLOR") == nil)
            screen.view = view
            screen.sort = sort
            var nextRefresh = SystemClock.wallNanoseconds()
            var entries: [TopEntry] = []
            var status = feed.status(model)
            func draw(_ now: Int64) {
                entries = model.entries(screen.view, sort: screen.sort, filter: screen.filter, flaggedOnly: screen.flaggedOnly, now: now)
                let clock = String(Timestamp.rfc3339(now).dropFirst(11).prefix(8))
                terminal.write(screen.frame(entries, status: status, clock: clock))
            }
            loop: while true {
                var now = SystemClock.wallNanoseconds()
                if now >= nextRefresh {
                    feed.poll(into: &model, now: now)
                    status = feed.status(model)
                    draw(now)
                    // The next refresh on the grid, skipping any missed while a poll was slow.
                    nextRefresh += step * max(1, (now - nextRefresh) / step + 1)
                    if feed.ended { break }
                }
                now = SystemClock.wallNanoseconds()
                switch terminal.next(milliseconds: Int32(max(0, (nextRefresh - now) / 1_000_000))) {
                case .key(let key):
                    if !screen.handle(key: key) { break loop }
                    draw(SystemClock.wallNanoseconds())
                case .special(let key):
                    screen.handle(special: key)
                    draw(SystemClock.wallNanoseconds())
                case .resize:
                    let size = terminal.size
                    screen.width = size.width
                    screen.height = size.height
                    terminal.write("\u{1b}[2J")
                    draw(SystemClock.wallNanoseconds())
                case .stop:
                    break loop
                case .timeout:
                    continue
                }
            }
        }
    }
}

/// Where `top` gets its flows: the daemon's database, read while it writes, or a capture of its own
/// through the live pipeline (the one the daemon and `capture` use).
final class TopFeed {
    enum Kind {
        case database(FlowStore)
        case capture(LivePipeline)
    }

    let kind: Kind
    /// What the first line says.
    let description: String
    /// How far back rates look and how late the source reports (see `TopModel`).
    let window: Int64
    let lag: Int64
    private var watermark: Int64
    private var attribution: String?
    private var eventsDropped: Int64 = 0
    private var lastLossCheck: Int64 = 0
    private var losses = Coverage()
    private let started = SystemClock.wallNanoseconds()
    private(set) var ended = false

    private init(kind: Kind, description: String, window: Int64, lag: Int64, attribution: String?) {
        self.kind = kind
        self.description = description
        self.window = window
        self.lag = lag
        self.attribution = attribution
        // The baseline: flows of the last two minutes, whose bytes so far are not top's to count.
        watermark = SystemClock.wallNanoseconds() - 120_000_000_000
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func open(source: Telltale.Top.Source, database: String, interfaces: [String]) throws -> TopFeed {
        let now = SystemClock.wallNanoseconds()
        var daemonReason = "no database at \(database)"
        if source != .capture, FileManager.default.fileExists(atPath: database) {
            let store = try FlowStore(path: database, readOnly: true)
            let state = try store.daemonState()
            if let s = state, kill(pid_t(s.pid), 0) == 0, now - s.heartbeat < 30_000_000_000 {
                // The daemon checkpoints open flows every few seconds: rates look back further and
                // allow for that delay.
                return TopFeed(
                    kind: .database(store), description: "daemon database \(database) (pid \(s.pid), read while it writes)",
                    window: 6_000_000_000, lag: 5_000_000_000, attribution: s.attribution.isEmpty ? nil : s.attribution)
            }
            daemonReason = state.map { "no daemon running with \(database) (last seen \(Timestamp.local($0.heartbeat)))" }
                ?? "no daemon ever ran with \(database)"
            if source == .daemon {
                // Asked for the database: show it even without a daemon (nothing will move).
                return TopFeed(
                    kind: .database(store), description: "database \(database) (\(daemonReason))", window: 6_000_000_000,
                    lag: 5_000_000_000, attribution: nil)
            }
        } else if source == .daemon {
            throw Failure(description: "no database at \(database) (--db names the daemon's)")
        }
        var options = LivePipeline.Options()
        options.interfaces = interfaces
        // Open flows are handed out every 2 seconds: rates move within a refresh or two, and a
        // machine with 10,000 open flows makes 5,000 rows a second rather than 10,000.
        options.activeTimeout = 2_000_000_000
        var logger = Logger(label: "telltale")
        logger.logLevel = .error
        let pipeline: LivePipeline
        do {
            pipeline = try LivePipeline(options: options, logger: logger)
        } catch {
            throw Failure(description: "\(daemonReason), and capturing by ourselves failed: \(error)")
        }
        return TopFeed(
            kind: .capture(pipeline), description: "own capture on \(interfaces.joined(separator: ",")) (\(daemonReason))",
            window: 4_000_000_000, lag: 3_000_000_000, attribution: pipeline.attributionState)
    }

    /// Folds what the source reported since the last call into `model`.
    func poll(into model: inout TopModel, now: Int64) {
        switch kind {
        case .database(let store):
            do {
                // Counters only, and whole rows just for flows not seen before: with 10,000 open flows
                // checkpointed every few seconds, most of each read is flows already known.
                let counters = try store.flowCounters(endingAfter: watermark)
                let unknown = counters.filter { !model.knows($0.uid) }.map(\.uid)
                let rows = unknown.isEmpty ? [] : try store.flows(uids: unknown)
                model.absorb(reported: rows, counters: counters, now: now)
                // Checkpoints land a few seconds after their packets: read back over that delay.
                if let newest = counters.map(\.end).max() { watermark = max(watermark, newest - lag) }
                problem = nil
            } catch {
                problem = "\(error)"
                model.absorb(reported: [], now: now)
            }
        case .capture(let pipeline):
            var rows: [(row: FlowRow, isOpen: Bool)] = []
            while true {
                let batch = pipeline.next(waitMilliseconds: 0)
                rows += batch.flows.map { ($0.row, $0.isOpen) }
                if batch.isLast { ended = true }
                if batch.flows.isEmpty || batch.isLast { break }
            }
            model.absorb(reported: rows, now: now)
        }
    }

    private var problem: String?

    /// The status line's figures.
    func status(_ model: TopModel) -> TopStatus {
        var s = TopStatus(source: description)
        s.bytes = model.bytes
        s.attributedBytes = model.attributedBytes
        s.problem = problem
        switch kind {
        case .database(let store):
            let now = SystemClock.wallNanoseconds()
            if now - lastLossCheck >= 5_000_000_000 {
                lastLossCheck = now
                if let l = try? store.losses(since: started) { losses = l }
                if let state = try? store.daemonState(), !state.attribution.isEmpty { attribution = state.attribution }
            }
            s.dropped = losses.dropped
            s.interfaceDropped = losses.interfaceDropped
            s.queueDropped = losses.queueDropped
            s.eventDropped = losses.eventDropped
        case .capture(let pipeline):
            let (_, statistics) = pipeline.snapshot
            s.dropped = statistics.kernelDropped
            s.interfaceDropped = statistics.droppedByInterface
            s.queueDropped = pipeline.queueDropped
            s.eventDropped = pipeline.eventsDropped
        }
        s.attribution = attribution
        return s
    }

    func close() {
        if case .capture(let pipeline) = kind {
            pipeline.stop.trigger()
            // Let the capture thread end and hand out its last flows before attribution stops.
            for _ in 0..<50 where !pipeline.next(waitMilliseconds: 20).isLast {}
            pipeline.close()
        }
    }
}
