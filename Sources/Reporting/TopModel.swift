import Flows
import PacketParsing

/// How `top` groups what it shows: per program, per process, per role, or per destination.
public enum TopView: String, Sendable, CaseIterable {
    case program, process, role, destination

    /// The next view in the cycle (Tab).
    public var next: TopView {
        let all = TopView.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]  // self is one of allCases
    }
}

/// The order of `top`'s rows.
public enum TopSort: String, Sendable, CaseIterable {
    case rateOut = "rate-out", rateIn = "rate-in", total, name

    public var next: TopSort {
        let all = TopSort.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]  // self is one of allCases
    }

    /// What the status line calls it.
    public var title: String {
        switch self {
        case .rateOut: "rate out"
        case .rateIn: "rate in"
        case .total: "total"
        case .name: "name"
        }
    }
}

/// A flow's counters as a source reports them: all `top` needs of a flow whose row it has seen.
public struct FlowCounters: Sendable, Equatable {
    public var uid: String
    public var start: Int64
    public var end: Int64
    public var bytesOut: Int64
    public var bytesIn: Int64
    public var isOpen: Bool
    /// The rules flagged the flow as an alert.
    public var alert: Bool

    public init(uid: String, start: Int64, end: Int64, bytesOut: Int64, bytesIn: Int64, isOpen: Bool, alert: Bool) {
        self.uid = uid
        self.start = start
        self.end = end
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
        self.isOpen = isOpen
        self.alert = alert
    }
}

/// One row of `top`: a program (role, destination) with its rates and totals since `top` started.
public struct TopEntry: Sendable, Equatable {
    /// The group's key: an executable path, a role, a destination.
    public var key: String
    /// What the row shows in its first column (an executable's base name, say).
    public var label: String
    /// Bytes per second over the last few seconds.
    public var rateOut: Double
    public var rateIn: Double
    /// Bytes since `top` started.
    public var totalOut: Int64
    public var totalIn: Int64
    /// Flows that carried bytes since `top` started.
    public var flows: Int
    /// The other side, most bytes first: destinations (`host (scope)`) of a program or role, programs
    /// of a destination.
    public var related: [String]
    /// Flows the rules flagged as alerts.
    public var alerts: Int
    /// Traffic no process could be found for.
    public var unattributed: Bool

    public init(
        key: String, label: String, rateOut: Double, rateIn: Double, totalOut: Int64, totalIn: Int64, flows: Int,
        related: [String], alerts: Int, unattributed: Bool
    ) {
        self.key = key
        self.label = label
        self.rateOut = rateOut
        self.rateIn = rateIn
        self.totalOut = totalOut
        self.totalIn = totalIn
        self.flows = flows
        self.related = related
        self.alerts = alerts
        self.unattributed = unattributed
    }
}

/// What `top` knows: every flow's counters as last seen, folded into per-program, per-role and
/// per-destination totals and rates. Pure: flows in, rows out; the caller owns the clock.
///
/// Flows arrive as rows with cumulative counters (an open flow's update, a flow's end, a row the
/// daemon checkpointed), any number of times; only what grew since the last sight is counted. What
/// grew is spread over packet time since the flow's previous report, in half-second bins, and a rate
/// is the bins of the last `window` ending `lag` ago: 10,000 flows checkpointed at staggered moments
/// every few seconds still add up to steady, right rates.
public struct TopModel: Sendable {
    /// How far back a rate looks (nanoseconds).
    public var window: Int64
    /// How late the source reports a packet at most: a group silent for longer is decaying, not
    /// waiting for its next report.
    public var lag: Int64
    /// When `top` started (nanoseconds since the epoch).
    public let started: Int64
    /// Bytes since the start, and those a process was found for: the coverage.
    public private(set) var bytes: Int64 = 0
    public private(set) var attributedBytes: Int64 = 0

    struct FlowState: Sendable {
        var bytesOut: Int64
        var bytesIn: Int64
        var end: Int64
        var alert: Bool
        var counted: Bool
        var isOpen: Bool
        var identity: Identity
    }

    /// Where a flow's bytes go in each view: kept from its first row, so later reports need only
    /// its counters.
    struct Identity: Sendable {
        var program: (key: String, label: String, related: String)
        var process: (key: String, label: String, related: String)
        var role: (key: String, label: String, related: String)
        var destination: (key: String, label: String, related: String)
        var attributed: Bool

        init(_ row: FlowRow) {
            program = TopModel.grouping(row, view: .program)
            process = TopModel.grouping(row, view: .process)
            role = TopModel.grouping(row, view: .role)
            destination = TopModel.grouping(row, view: .destination)
            attributed = row.process != nil
        }

        func grouping(_ view: TopView) -> (key: String, label: String, related: String) {
            switch view {
            case .program: program
            case .process: process
            case .role: role
            case .destination: destination
            }
        }
    }

    struct Group: Sendable {
        var label: String
        var totalOut: Int64 = 0
        var totalIn: Int64 = 0
        var flows = 0
        var alerts = 0
        var unattributed = false
        /// Bytes per half second of packet time (bin index = time / binWidth), out and in, for the
        /// last few seconds: each report's bytes are spread over the time since the flow's previous
        /// report, so flows reported at different moments add up to the right rate.
        var bins: [Int64: (out: Double, in: Double)] = [:]
        var related: [String: Int64] = [:]

        mutating func spread(out: Int64, in bytesIn: Int64, from: Int64, to: Int64, binWidth: Int64, oldest: Int64) {
            let from = max(from, oldest)
            guard to > from else {
                let bin = max(to, oldest) / binWidth
                bins[bin, default: (0, 0)].out += Double(out)
                bins[bin, default: (0, 0)].in += Double(bytesIn)
                return
            }
            let total = Double(to - from)
            var bin = from / binWidth
            while bin * binWidth < to {
                let overlap = Double(min(to, (bin + 1) * binWidth) - max(from, bin * binWidth))
                bins[bin, default: (0, 0)].out += Double(out) * overlap / total
                bins[bin, default: (0, 0)].in += Double(bytesIn) * overlap / total
                bin += 1
            }
        }
    }

    /// The length of a rate bin.
    static let binWidth: Int64 = 500_000_000

    private var flowStates: [String: FlowState] = [:]
    private var groups: [TopView: [String: Group]] = [:]
    private var sawFirst = false

    /// - Parameter window: how far back rates look. - Parameter lag: how late the source can be.
    public init(started: Int64, window: Int64 = 5_000_000_000, lag: Int64 = 4_000_000_000) {
        self.started = started
        self.window = window
        self.lag = lag
    }

    /// Flows tracked now (open, or seen lately).
    public var trackedFlows: Int { flowStates.count }

    /// Whether a flow's row was seen (its counters alone are then enough).
    public func knows(_ uid: String) -> Bool { flowStates[uid] != nil }

    /// Folds in rows as the source hands them out. The first call is the baseline when
    /// `firstIsBaseline`: what flows carried before `top` started is not counted.
    public mutating func absorb(_ rows: [FlowRow], now: Int64, firstIsBaseline: Bool = true) {
        absorb(reported: rows.map { ($0, true) }, now: now, firstIsBaseline: firstIsBaseline)
    }

    /// Folds in whole rows (flows seen for the first time, or any) with whether each flow is still
    /// open (an ended flow is forgotten sooner), and bare counters of flows already known.
    public mutating func absorb(
        reported rows: [(row: FlowRow, isOpen: Bool)], counters: [FlowCounters] = [], now: Int64, firstIsBaseline: Bool = true
    ) {
        var items: [(FlowCounters, Identity)] = []
        items.reserveCapacity(rows.count + counters.count)
        for (row, isOpen) in rows {
            let c = FlowCounters(
                uid: row.uid, start: row.start, end: row.end, bytesOut: row.bytesOut, bytesIn: row.bytesIn, isOpen: isOpen,
                alert: row.verdict == .alert)
            items.append((c, flowStates[row.uid]?.identity ?? Identity(row)))
        }
        for c in counters {
            guard let identity = flowStates[c.uid]?.identity else { continue }
            items.append((c, identity))
        }
        fold(items, now: now, firstIsBaseline: firstIsBaseline)
    }

    private mutating func fold(_ items: [(FlowCounters, Identity)], now: Int64, firstIsBaseline: Bool) {
        let baseline = firstIsBaseline && !sawFirst
        sawFirst = true
        var touched: [TopView: Set<String>] = [:]
        for (row, identity) in items {
            let previous = flowStates[row.uid]
            // Unchanged since the last report: nothing to fold.
            if let previous, previous.bytesOut == row.bytesOut, previous.bytesIn == row.bytesIn, previous.end >= row.end,
                previous.alert || !row.alert, previous.isOpen == row.isOpen
            {
                continue
            }
            var deltaOut = row.bytesOut, deltaIn = row.bytesIn
            if let previous {
                deltaOut = max(0, row.bytesOut - previous.bytesOut)
                deltaIn = max(0, row.bytesIn - previous.bytesIn)
            } else if baseline {
                deltaOut = 0
                deltaIn = 0
            }
            let newAlert = row.alert && previous?.alert != true && (!baseline || previous != nil)
            let firstBytes = (deltaOut + deltaIn > 0) && previous?.counted != true
            flowStates[row.uid] = FlowState(
                bytesOut: max(row.bytesOut, previous?.bytesOut ?? 0), bytesIn: max(row.bytesIn, previous?.bytesIn ?? 0),
                end: max(row.end, previous?.end ?? 0), alert: row.alert || previous?.alert == true,
                counted: previous?.counted == true || firstBytes, isOpen: row.isOpen, identity: identity)
            let delta = deltaOut + deltaIn
            bytes += delta
            if identity.attributed { attributedBytes += delta }
            guard delta > 0 || previous == nil || newAlert else { continue }
            for view in TopView.allCases {
                let (key, label, related) = identity.grouping(view)
                // Taken out and put back, so the group's storage is not shared while it changes.
                var group = groups[view, default: [:]].removeValue(forKey: key) ?? Group(label: label)
                group.totalOut += deltaOut
                group.totalIn += deltaIn
                if firstBytes { group.flows += 1 }
                if newAlert { group.alerts += 1 }
                if !identity.attributed && view != .destination { group.unattributed = true }
                if delta > 0 { group.related[related, default: 0] += delta }
                if delta > 0 {
                    // Bytes of a flow seen first now count from its start; later ones from its previous report.
                    group.spread(
                        out: deltaOut, in: deltaIn, from: previous?.end ?? row.start, to: row.end, binWidth: TopModel.binWidth,
                        oldest: now - lag - window - 60_000_000_000)
                }
                groups[view, default: [:]][key] = group
                touched[view, default: []].insert(key)
            }
        }
        for (view, keys) in touched {
            for key in keys {
                guard var group = groups[view]?.removeValue(forKey: key) else { continue }
                // Bins older than any window still to be shown are dropped.
                let oldest = (now - lag - window) / TopModel.binWidth - 1
                if group.bins.count > 16 { group.bins = group.bins.filter { $0.key >= oldest } }
                // Bounded related lists: a program talking to 10,000 destinations keeps its top ones.
                if group.related.count > 64 {
                    let kept = group.related.sorted { $0.value > $1.value }.prefix(32)
                    group.related = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
                }
                groups[view]?[key] = group
            }
        }
        // Forget ended flows silent for a minute (a source re-reports a flow only while it is recent),
        // and open ones silent for half an hour.
        if flowStates.count > 0, now - lastEviction > 10_000_000_000 {
            lastEviction = now
            flowStates = flowStates.filter { now - $0.value.end < ($0.value.isOpen ? 1_800_000_000_000 : 60_000_000_000) }
        }
    }

    private var lastEviction: Int64 = 0

    static func grouping(_ row: FlowRow, view: TopView) -> (key: String, label: String, related: String) {
        let destination = row.hostname ?? row.remoteAddress
        let program: (key: String, label: String)
        if let p = row.process {
            // Keyed by program and executable: two programs with one name (a script named app.py in
            // two places runs one interpreter; two different executables called `server`) stay apart.
            let name = p.displayName
            let executable = p.exe ?? p.comm ?? "pid \(p.pid)"
            program = (p.program.map { $0 + "\u{0}" + executable } ?? executable, name)
        } else {
            let text = "(unattributed: \(row.unattributedReason ?? "no process"))"
            program = (text, text)
        }
        switch view {
        case .program:
            return (program.key, program.label, "\(destination) (\(row.scope.rawValue))")
        case .process:
            // One row per process: its pid and start time tell two runs of a program apart.
            guard let p = row.process else { return (program.key, program.label, "\(destination) (\(row.scope.rawValue))") }
            return ("\(p.pid)\u{0}\(p.startTime ?? 0)", "\(p.displayName) [\(p.pid)]", "\(destination) (\(row.scope.rawValue))")
        case .role:
            let role = row.process == nil ? "(unattributed)" : (row.process?.role ?? "other")
            return (role, role, "\(destination) (\(row.scope.rawValue))")
        case .destination:
            return (destination + " " + row.scope.rawValue, "\(destination) (\(row.scope.rawValue))", program.label)
        }
    }

    /// The rows of a view at `now`, filtered (case-insensitive, on the name and the related names)
    /// and sorted.
    public func entries(_ view: TopView, sort: TopSort = .rateOut, filter: String = "", flaggedOnly: Bool = false, now: Int64)
        -> [TopEntry]
    {
        let needle = filter.lowercased()
        var out: [TopEntry] = []
        for (key, g) in groups[view] ?? [:] {
            let related = g.related.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map(\.key)
            if flaggedOnly && g.alerts == 0 && !g.unattributed { continue }
            if !needle.isEmpty && !g.label.lowercased().contains(needle) && !key.lowercased().contains(needle)
                && !related.contains(where: { $0.lowercased().contains(needle) })
            {
                continue
            }
            let (rateOut, rateIn) = rates(g, now: now)
            out.append(
                TopEntry(
                    key: key, label: g.label, rateOut: rateOut, rateIn: rateIn, totalOut: g.totalOut, totalIn: g.totalIn,
                    flows: g.flows, related: related, alerts: g.alerts, unattributed: g.unattributed))
        }
        if view == .program {
            // Two programs with one name (an app.py in two places, two executables called `server`)
            // are told apart by their executables.
            let counts = Dictionary(grouping: out, by: \.label).mapValues(\.count)
            for i in out.indices where counts[out[i].label, default: 0] > 1 {
                let executable = out[i].key.split(separator: "\u{0}").last.map(String.init) ?? out[i].key
                if executable != out[i].label { out[i].label += " (\(executable))" }
            }
        }
        out.sort { a, b in
            switch sort {
            case .rateOut: if a.rateOut != b.rateOut { return a.rateOut > b.rateOut }
            case .rateIn: if a.rateIn != b.rateIn { return a.rateIn > b.rateIn }
            case .total: if a.totalOut + a.totalIn != b.totalOut + b.totalIn { return a.totalOut + a.totalIn > b.totalOut + b.totalIn }
            case .name: break
            }
            return (a.label, a.key) < (b.label, b.key)
        }
        return out
    }

    /// Bytes per second out and in over `window`, ending `lag` before `now` (by then every packet
    /// of that stretch has been reported).
    func rates(_ g: Group, now: Int64) -> (Double, Double) {
        let hi = (now - lag) / TopModel.binWidth
        let bins = max(1, window / TopModel.binWidth)
        var out = 0.0, bytesIn = 0.0
        for (bin, v) in g.bins where bin >= hi - bins && bin < hi {
            out += v.out
            bytesIn += v.in
        }
        let seconds = Double(bins * TopModel.binWidth) / 1e9
        return (out / seconds, bytesIn / seconds)
    }
}
