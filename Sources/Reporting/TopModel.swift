import PacketParsing

/// How `top` groups what it shows: per program, per role, or per destination.
public enum TopView: String, Sendable, CaseIterable {
    case program, role, destination

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
/// daemon checkpointed), any number of times; only what grew since the last sight is counted. Rates
/// come from samples of each group's total, stamped with the time of the newest packet behind it, so
/// a source that reports every few seconds still gives steady rates.
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
    }

    struct Sample: Sendable {
        var time: Int64
        var bytesOut: Int64
        var bytesIn: Int64
    }

    struct Group: Sendable {
        var label: String
        var totalOut: Int64 = 0
        var totalIn: Int64 = 0
        var flows = 0
        var alerts = 0
        var unattributed = false
        var lastData: Int64
        var samples: [Sample]
        var related: [String: Int64] = [:]
    }

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

    /// Folds in rows as the source hands them out. The first call is the baseline when
    /// `firstIsBaseline`: what flows carried before `top` started is not counted.
    public mutating func absorb(_ rows: [FlowRow], now: Int64, firstIsBaseline: Bool = true) {
        absorb(reported: rows.map { ($0, true) }, now: now, firstIsBaseline: firstIsBaseline)
    }

    /// Folds in rows with whether each flow is still open: an ended flow is forgotten sooner.
    public mutating func absorb(reported rows: [(row: FlowRow, isOpen: Bool)], now: Int64, firstIsBaseline: Bool = true) {
        let baseline = firstIsBaseline && !sawFirst
        sawFirst = true
        var touched: [TopView: Set<String>] = [:]
        for (row, isOpen) in rows {
            let previous = flowStates[row.uid]
            var deltaOut = row.bytesOut, deltaIn = row.bytesIn
            if let previous {
                deltaOut = max(0, row.bytesOut - previous.bytesOut)
                deltaIn = max(0, row.bytesIn - previous.bytesIn)
            } else if baseline {
                deltaOut = 0
                deltaIn = 0
            }
            let isAlert = row.verdict == "alert"
            let newAlert = isAlert && previous?.alert != true && (!baseline || previous != nil)
            let firstBytes = (deltaOut + deltaIn > 0) && previous?.counted != true
            flowStates[row.uid] = FlowState(
                bytesOut: max(row.bytesOut, previous?.bytesOut ?? 0), bytesIn: max(row.bytesIn, previous?.bytesIn ?? 0),
                end: max(row.end, previous?.end ?? 0), alert: isAlert || previous?.alert == true,
                counted: previous?.counted == true || firstBytes, isOpen: isOpen)
            let delta = deltaOut + deltaIn
            bytes += delta
            if row.process != nil { attributedBytes += delta }
            guard delta > 0 || previous == nil || newAlert else { continue }
            for view in TopView.allCases {
                let (key, label, related) = TopModel.grouping(row, view: view)
                var group = groups[view, default: [:]][key]
                    ?? Group(
                        label: label, lastData: row.start,
                        // A group seen first after the start had nothing at its first packet.
                        samples: [Sample(time: baseline ? row.end : min(row.start, row.end), bytesOut: 0, bytesIn: 0)])
                group.totalOut += deltaOut
                group.totalIn += deltaIn
                if firstBytes { group.flows += 1 }
                if newAlert { group.alerts += 1 }
                if row.process == nil && view != .destination { group.unattributed = true }
                if delta > 0 { group.related[related, default: 0] += delta }
                if delta > 0 || baseline { group.lastData = max(group.lastData, row.end) }
                groups[view, default: [:]][key] = group
                touched[view, default: []].insert(key)
            }
        }
        for (view, keys) in touched {
            for key in keys {
                guard var group = groups[view]?[key] else { continue }
                let sample = Sample(time: group.lastData, bytesOut: group.totalOut, bytesIn: group.totalIn)
                if let last = group.samples.last, last.time >= sample.time {
                    group.samples[group.samples.count - 1] = Sample(time: last.time, bytesOut: sample.bytesOut, bytesIn: sample.bytesIn)
                } else {
                    group.samples.append(sample)
                }
                // Keep one sample at or before the window's start, and those after it.
                while group.samples.count > 2, group.samples[1].time <= group.lastData - window { group.samples.removeFirst() }
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
            let name = p.exe.map { String($0.split(separator: "/").last ?? Substring($0)) } ?? p.comm ?? "pid \(p.pid)"
            program = (p.exe ?? p.comm ?? "pid \(p.pid)", name)
        } else {
            let text = "(unattributed: \(row.unattributedReason ?? "no process"))"
            program = (text, text)
        }
        switch view {
        case .program:
            return (program.key, program.label, "\(destination) (\(row.scope.rawValue))")
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

    /// Bytes per second out and in over the last `window`: from the newest sample at or before the
    /// window's start to the group's newest data, or to `now - lag` when the group has gone quiet.
    func rates(_ g: Group, now: Int64) -> (Double, Double) {
        let effectiveNow = max(g.lastData, now - lag)
        guard let latest = g.samples.last else { return (0, 0) }
        let reference = g.samples.last(where: { $0.time <= effectiveNow - window }) ?? g.samples[0]
        let span = effectiveNow - reference.time
        guard span >= 500_000_000 else { return (0, 0) }
        let seconds = Double(span) / 1e9
        return (Double(latest.bytesOut - reference.bytesOut) / seconds, Double(latest.bytesIn - reference.bytesIn) / seconds)
    }
}
