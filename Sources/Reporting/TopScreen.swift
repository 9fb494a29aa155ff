/// The health figures of `top`'s status line.
public struct TopStatus: Sendable, Equatable {
    /// Where the flows come from, e.g. `daemon database /var/lib/telltale/telltale.db (read while it writes)`.
    public var source: String
    /// Bytes since the start, and those attributed to a process.
    public var bytes: Int64 = 0
    public var attributedBytes: Int64 = 0
    /// Packets the kernel, the interface or a full queue dropped since the start.
    public var dropped: Int64 = 0
    public var interfaceDropped: Int64 = 0
    public var queueDropped: Int64 = 0
    /// Socket events the kernel dropped since the start.
    public var eventDropped: Int64 = 0
    /// How flows are attributed (`kernel-events`, `polling (why)`), when known.
    public var attribution: String?
    /// A problem with the source, shown instead of silence (the database went away, say).
    public var problem: String?

    public init(source: String) { self.source = source }

    /// Attributed share, 0…100, one decimal; 100 with no bytes.
    public var coveragePercent: Double {
        bytes == 0 ? 100 : (Double(attributedBytes) / Double(bytes) * 1000).rounded() / 10
    }
}

/// What `top` shows, as plain state: the view, the order, the filter, whether help is open, the
/// terminal's size. Turning it into text is pure, so it is tested without a terminal.
public struct TopScreen: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// ANSI colour and reverse video (off with NO_COLOR or when not on a terminal).
    public var colour: Bool
    public var view: TopView = .program
    public var sort: TopSort = .rateOut
    public var filter = ""
    /// The filter is being typed (after `/`).
    public var editingFilter = false
    /// Only rows with alerts or unattributed traffic (`a`).
    public var flaggedOnly = false
    public var showHelp = false
    /// The first row shown (scrolling with the arrow keys).
    public var firstRow = 0

    public init(width: Int, height: Int, colour: Bool) {
        self.width = width
        self.height = height
        self.colour = colour
    }

    /// What a key does to the screen; returns false for `q` (quit).
    public mutating func handle(key: UInt8) -> Bool {
        if editingFilter {
            switch key {
            case 13, 10: editingFilter = false
            case 27: editingFilter = false; filter = ""
            case 127, 8: if !filter.isEmpty { filter.removeLast() }
            case 32...126: filter.append(Character(Unicode.Scalar(key)))
            default: break
            }
            firstRow = 0
            return true
        }
        if showHelp && key != UInt8(ascii: "q") {
            showHelp = false
            return true
        }
        switch key {
        case UInt8(ascii: "q"), 3: return false
        case UInt8(ascii: "?"), UInt8(ascii: "h"): showHelp = true
        case UInt8(ascii: "p"): view = .program
        case UInt8(ascii: "P"), UInt8(ascii: "c"): view = .process
        case UInt8(ascii: "r"): view = .role
        case UInt8(ascii: "d"): view = .destination
        case 9, UInt8(ascii: "v"): view = view.next
        case UInt8(ascii: "s"): sort = sort.next
        case UInt8(ascii: "o"): sort = .rateOut
        case UInt8(ascii: "i"): sort = .rateIn
        case UInt8(ascii: "t"): sort = .total
        case UInt8(ascii: "n"): sort = .name
        case UInt8(ascii: "a"): flaggedOnly.toggle()
        case UInt8(ascii: "/"): editingFilter = true; filter = ""
        case 27: filter = ""; flaggedOnly = false
        case UInt8(ascii: "j"): firstRow += 1
        case UInt8(ascii: "k"): firstRow = max(0, firstRow - 1)
        default: break
        }
        if key != UInt8(ascii: "j") && key != UInt8(ascii: "k") && key != UInt8(ascii: "?") { firstRow = 0 }
        return true
    }

    /// The keys a terminal sends as escape sequences.
    public enum SpecialKey: Sendable, Equatable {
        case up, down, pageUp, pageDown, home
    }

    /// What an arrow or paging key does: scroll by a row or a screen.
    public mutating func handle(special: SpecialKey) {
        guard !showHelp, !editingFilter else { return }
        let page = max(1, height - 4)
        switch special {
        case .up: firstRow = max(0, firstRow - 1)
        case .down: firstRow += 1
        case .pageUp: firstRow = max(0, firstRow - page)
        case .pageDown: firstRow += page
        case .home: firstRow = 0
        }
    }

    /// Reads the escape sequences of arrow and paging keys (`ESC [ A`, `ESC O B`, `ESC [ 5 ~`) from
    /// the start of `bytes`: the key and how many bytes it took, or nil when `bytes` does not start
    /// with one.
    public static func special(in bytes: ArraySlice<UInt8>) -> (SpecialKey, Int)? {
        guard bytes.count >= 3, bytes.first == 27 else { return nil }
        let second = bytes[bytes.startIndex + 1], third = bytes[bytes.startIndex + 2]
        guard second == UInt8(ascii: "[") || second == UInt8(ascii: "O") else { return nil }
        switch third {
        case UInt8(ascii: "A"): return (.up, 3)
        case UInt8(ascii: "B"): return (.down, 3)
        case UInt8(ascii: "H"): return (.home, 3)
        case UInt8(ascii: "5") where bytes.count >= 4 && bytes[bytes.startIndex + 3] == UInt8(ascii: "~"): return (.pageUp, 4)
        case UInt8(ascii: "6") where bytes.count >= 4 && bytes[bytes.startIndex + 3] == UInt8(ascii: "~"): return (.pageDown, 4)
        default: return nil
        }
    }

    /// The help text shown on `?`.
    public static let helpLines = [
        "telltale top: keys",
        "",
        "  p  per program   P  per process   r  per role   d  per destination",
        "  Tab or v  next view",
        "  o  sort by rate out     i  by rate in        t  by total      n  by name",
        "  s  next sort order",
        "  /  filter (type, Enter keeps it, Esc clears it)",
        "  a  only rows with alerts (!) or unattributed traffic (?)",
        "  Esc  clear filter        j/k or arrows  scroll, PgUp/PgDn  a screen",
        "  q or Ctrl-C  quit",
        "",
        "OUT/s and IN/s: bytes per second over the last seconds (IP layer).",
        "TOTAL: bytes since top started (shown from 100 columns). ! alerts  ? no process found",
        "Any key closes this help.",
    ]

    /// The screen as lines, exactly `height` of them, none wider than `width` columns.
    public func lines(_ entries: [TopEntry], status: TopStatus, clock: String) -> [String] {
        let w = max(20, width), h = max(5, height)
        var out: [String] = []
        let viewName = switch view {
        case .program: "program"
        case .process: "process"
        case .role: "role"
        case .destination: "destination"
        }
        out.append(styled(fit("telltale top · per \(viewName) · \(status.source) · \(clock)", w), bold: true))
        var controls = "sort: \(sort.title)"
        if editingFilter { controls += " · filter: \(filter)_" } else if !filter.isEmpty { controls += " · filter: \(filter)" }
        if flaggedOnly { controls += " · only alerts/unattributed" }
        controls += " · \(entries.count) rows · ? help · q quit"
        out.append(fit(controls, w))
        let body = h - 4
        if showHelp {
            for line in TopScreen.helpLines.prefix(body) { out.append(fit(line, w)) }
        } else {
            let columns = layout(width: w)
            out.append(styled(header(columns), reverse: true))
            let first = min(firstRow, max(0, entries.count - body))
            for entry in entries.dropFirst(first).prefix(body) {
                let line = row(entry, columns)
                if entry.alerts > 0 {
                    out.append(colour ? "\u{1b}[31m" + line + "\u{1b}[0m" : line)
                } else if entry.unattributed {
                    out.append(colour ? "\u{1b}[33m" + line + "\u{1b}[0m" : line)
                } else {
                    out.append(line)
                }
            }
            if entries.isEmpty { out.append(fit(filter.isEmpty && !flaggedOnly ? "(no traffic yet)" : "(no rows match)", w)) }
        }
        while out.count < h - 1 { out.append("") }
        out.append(styled(fit(statusLine(status), w), reverse: true))
        return out
    }

    /// The whole screen as one write: home, each line cleared to its end, nothing scrolled.
    public func frame(_ entries: [TopEntry], status: TopStatus, clock: String) -> String {
        let all = lines(entries, status: status, clock: clock)
        var text = "\u{1b}[H"
        for (i, line) in all.enumerated() {
            text += line + "\u{1b}[K"
            if i < all.count - 1 { text += "\r\n" }
        }
        return text
    }

    /// The status line: in full when it fits, else in short words (an 80-column terminal).
    func statusLine(_ s: TopStatus) -> String {
        if let problem = s.problem { return "problem: \(problem)" }
        var text = "coverage \(s.coveragePercent)% of \(ByteCount.text(s.bytes)) · drops: \(s.dropped) kernel, "
            + "\(s.interfaceDropped) interface, \(s.queueDropped) queue · socket events dropped: \(s.eventDropped)"
        if let a = s.attribution { text += " · \(a)" }
        guard text.count > width else { return text }
        var short = "cov \(s.coveragePercent)% of \(ByteCount.text(s.bytes)) · drops \(s.dropped)k \(s.interfaceDropped)i \(s.queueDropped)q"
            + " · events lost \(s.eventDropped)"
        if let a = s.attribution { short += " · " + (a.hasPrefix("kernel") ? "kernel events" : String(a.prefix(20))) }
        return short
    }

    struct Columns {
        var name: Int
        var number: Int
        var flows: Int
        var related: Int
        /// The totals since the start, shown from 100 columns.
        var totals: Bool
    }

    /// The columns for a width: below 100 the totals give way, so that the destinations (the point
    /// of a privacy view) keep at least 24 columns at 80.
    func layout(width: Int) -> Columns {
        let number = 10, flows = 5
        let totals = width >= 100
        // Marker, name, the numbers and flows, with a space between each.
        let fixed = 2 + (totals ? 4 : 2) * (number + 1) + flows + 1
        let rest = max(10, width - fixed)
        // The related names keep 24 columns (or 40%), the name the rest up to 40.
        let related = max(min(24, rest / 2), rest * 2 / 5)
        let name = max(8, min(40, rest - related - 1))
        return Columns(name: name, number: number, flows: flows, related: max(0, rest - name - 1), totals: totals)
    }

    func header(_ c: Columns) -> String {
        let title = switch view {
        case .program: "PROGRAM"
        case .process: "PROCESS"
        case .role: "ROLE"
        case .destination: "DESTINATION"
        }
        let related = view == .destination ? "PROGRAMS" : "DESTINATIONS"
        let totals = c.totals ? left("TOTAL OUT", c.number) + " " + left("TOTAL IN", c.number) + " " : ""
        let line = "  " + pad(title, c.name) + " " + left("OUT/s", c.number) + " " + left("IN/s", c.number) + " "
            + totals + left("FLOWS", c.flows) + " " + pad(related, c.related)
        return fit(line, width)
    }

    func row(_ e: TopEntry, _ c: Columns) -> String {
        let marker = e.alerts > 0 ? "!" : (e.unattributed ? "?" : " ")
        let related = Sanitizer.clean(e.related.joined(separator: ", "))
        let totals = c.totals ? left(ByteCount.text(e.totalOut), c.number) + " " + left(ByteCount.text(e.totalIn), c.number) + " " : ""
        let line = marker + " " + pad(Sanitizer.clean(e.label), c.name) + " " + left(ByteCount.text(Int64(e.rateOut)), c.number) + " "
            + left(ByteCount.text(Int64(e.rateIn)), c.number) + " " + totals + left(String(e.flows), c.flows) + " " + pad(related, c.related)
        return fit(line, width)
    }

    /// Cut to `n` columns, with an ellipsis when cut.
    func fit(_ text: String, _ n: Int) -> String {
        guard text.count > n else { return text }
        return n <= 1 ? String(text.prefix(n)) : String(text.prefix(n - 1)) + "…"
    }

    func pad(_ text: String, _ n: Int) -> String {
        let cut = fit(text, n)
        return cut + String(repeating: " ", count: max(0, n - cut.count))
    }

    func left(_ text: String, _ n: Int) -> String {
        let cut = fit(text, n)
        return String(repeating: " ", count: max(0, n - cut.count)) + cut
    }

    func styled(_ text: String, bold: Bool = false, reverse: Bool = false) -> String {
        guard colour else { return text }
        return (bold ? "\u{1b}[1m" : "") + (reverse ? "\u{1b}[7m" : "") + text + "\u{1b}[0m"
    }
}
