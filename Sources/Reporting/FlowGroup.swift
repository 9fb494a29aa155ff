/// Flows summed over one group of a report.
public struct FlowGroup: Sendable, Equatable {
    public init(
        key: String, flows: Int64, bytesOut: Int64, bytesIn: Int64, packetsOut: Int64, packetsIn: Int64, first: Int64,
        last: Int64, destinations: Int64, scopes: [String], topDestinations: [String], alerts: Int64
    ) {
        self.key = key; self.flows = flows; self.bytesOut = bytesOut; self.bytesIn = bytesIn
        self.packetsOut = packetsOut; self.packetsIn = packetsIn; self.first = first; self.last = last
        self.destinations = destinations; self.scopes = scopes; self.topDestinations = topDestinations
        self.alerts = alerts
    }

    public var key: String
    public var flows: Int64
    public var bytesOut: Int64
    public var bytesIn: Int64
    public var packetsOut: Int64
    public var packetsIn: Int64
    public var first: Int64
    public var last: Int64
    /// Distinct remote endpoints (hostname when known, else address); for a destination, the
    /// distinct programs that reached it.
    public var destinations: Int64
    /// The scopes reached, most bytes first.
    public var scopes: [String]
    /// Up to five destinations with the most bytes out (for a destination: programs).
    public var topDestinations: [String]
    public var alerts: Int64
}

/// Attribution coverage and capture losses over a window.
public struct Coverage: Sendable, Equatable {
    public var flows: Int64 = 0
    public var bytes: Int64 = 0
    public var attributedBytes: Int64 = 0
    public var received: Int64 = 0
    public var dropped: Int64 = 0
    public var interfaceDropped: Int64 = 0
    public var queueDropped: Int64 = 0
    /// Socket events the kernel dropped (ring buffer full).
    public var eventDropped: Int64 = 0
    /// Bytes of flows the kernel's socket events attributed (the rest of `attributedBytes` was polled).
    public var kernelEventBytes: Int64 = 0
    public init() {}

    /// Attributed bytes over all bytes, 0…1 (1 when there were no bytes).
    public var attributedShare: Double { bytes == 0 ? 1 : Double(attributedBytes) / Double(bytes) }
}


/// Renders grouped reports (also by time bucket: TimeBuckets.swift) and the coverage line.
public struct GroupRenderer: Sendable {
    public var format: OutputFormat
    public var terminal: Bool
    public var groupTitle: String

    public init(format: OutputFormat, terminal: Bool, groupTitle: String) {
        self.format = format
        self.terminal = terminal
        self.groupTitle = groupTitle
    }

    /// Grouped by destination, the other side is programs: the columns say so.
    var byDestination: Bool { groupTitle == "destination" }

    public func render(_ groups: [FlowGroup]) -> String {
        switch format {
        case .table:
            let headers = [groupTitle.uppercased(), "FLOWS", "OUT", "IN", byDestination ? "PROGS" : "DESTS", "SCOPES",
                           byDestination ? "TOP PROGRAMS" : "TOP DESTINATIONS", "ALERTS"]
            var rows: [[String]] = []
            for g in groups {
                rows.append([
                    Sanitizer.clean(g.key), String(g.flows), ByteCount.text(g.bytesOut), ByteCount.text(g.bytesIn),
                    String(g.destinations), g.scopes.joined(separator: ","),
                    Sanitizer.clean(g.topDestinations.joined(separator: ", ")), String(g.alerts),
                ])
            }
            if rows.isEmpty { return "no flows in this window\n" }
            return TextTable(headers: headers, rows: rows, rightAligned: [1, 2, 3, 4, 7], terminal: terminal).render()
        case .csv:
            var out = "group,flows,bytes_out,bytes_in,packets_out,packets_in,first,last,"
                + (byDestination ? "programs,scopes,top_programs,alerts\n" : "destinations,scopes,top_destinations,alerts\n")
            for g in groups {
                out += [
                    g.key, String(g.flows), String(g.bytesOut), String(g.bytesIn), String(g.packetsOut),
                    String(g.packetsIn), Timestamp.rfc3339(g.first), Timestamp.rfc3339(g.last), String(g.destinations),
                    g.scopes.joined(separator: " "), g.topDestinations.joined(separator: " "), String(g.alerts),
                ].map { FlowRow.csvQuote(Sanitizer.clean($0)) }.joined(separator: ",") + "\n"
            }
            return out
        case .zeek, .zeekJSON:
            // Zeek's layout has no groups; the commands refuse it before getting here.
            return ""
        case .json, .ndjson:
            return JSONWriter.list(groups, ndjson: format == .ndjson) { g, w in
                w.beginObject()
                w.key("group"); w.string(g.key)
                w.key("flows"); w.int(g.flows)
                w.key("bytes_out"); w.int(g.bytesOut)
                w.key("bytes_in"); w.int(g.bytesIn)
                w.key("packets_out"); w.int(g.packetsOut)
                w.key("packets_in"); w.int(g.packetsIn)
                w.key("first"); w.string(Timestamp.rfc3339(g.first))
                w.key("last"); w.string(Timestamp.rfc3339(g.last))
                w.key(byDestination ? "programs" : "destinations"); w.int(g.destinations)
                w.key("scopes"); w.beginArray(); for s in g.scopes { w.string(s) }; w.endArray()
                w.key(byDestination ? "top_programs" : "top_destinations"); w.beginArray(); for d in g.topDestinations { w.string(d) }; w.endArray()
                w.key("alerts"); w.int(g.alerts)
                w.endObject()
            }
        }
    }

    /// "coverage: 97.3% of 12.4 MiB attributed to a process · 1,204 flows · drops: 0 kernel, 0 interface"
    public static func coverageLine(_ c: Coverage) -> String {
        let share = (c.attributedShare * 1000).rounded() / 10
        let events = c.attributedBytes == 0 ? 0 : (Double(c.kernelEventBytes) / Double(c.attributedBytes) * 1000).rounded() / 10
        return "coverage: \(share)% of \(ByteCount.text(c.bytes)) attributed to a process (\(events)% by kernel events) · "
            + "\(Count.text(c.flows, "flow")) · capture drops: \(c.dropped) kernel, \(c.interfaceDropped) interface, \(c.queueDropped) queue"
            + (c.received > 0 ? " (of \(c.received) received)" : "") + " · socket events dropped: \(c.eventDropped)"
    }
}
