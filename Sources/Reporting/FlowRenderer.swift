import Flows
import PacketParsing

/// Renders flows in every output format: a table for people, JSON, NDJSON and CSV for programs,
/// Zeek's conn.log layout for pipelines that ingest Zeek.
public struct FlowRenderer: Sendable {
    public var format: OutputFormat
    /// When the output began, for the Zeek TSV `#open` and `#close` lines (nanoseconds since the epoch).
    public var openedAt: Int64 = 0
    /// Colour and terminal-width trimming, only when printing to a terminal.
    public var terminal: Bool
    public var terminalWidth: Int

    public init(format: OutputFormat, terminal: Bool = false, terminalWidth: Int = 160) {
        self.format = format
        self.terminal = terminal
        self.terminalWidth = terminalWidth
    }

    /// The text that goes before the first row (CSV header, JSON's opening bracket).
    public func header() -> String {
        switch format {
        case .csv: FlowRow.csvHeader.joined(separator: ",") + "\n"
        case .json: "[\n"
        case .zeek: ZeekConnLog.header(openedAt: openedAt)
        case .ndjson, .table, .zeekJSON: ""
        }
    }

    /// One row for the streaming formats (NDJSON, CSV, JSON); `index` places JSON's commas.
    public func streamRow(_ row: FlowRow, index: Int) -> String {
        switch format {
        case .ndjson:
            var w = JSONWriter()
            row.writeJSON(to: &w)
            return w.text + "\n"
        case .json:
            var w = JSONWriter()
            row.writeJSON(to: &w)
            return (index == 0 ? "" : ",\n") + w.text
        case .csv:
            return row.csvFields.map { FlowRow.csvQuote(Sanitizer.clean($0)) }.joined(separator: ",") + "\n"
        case .table:
            return table([row], includeHeader: index == 0)
        case .zeek:
            return ZeekConnLog.tsvLine(row)
        case .zeekJSON:
            return ZeekConnLog.jsonLine(row)
        }
    }

    /// The text that closes the output.
    public func footer(rowCount: Int, closedAt: Int64? = nil) -> String {
        switch format {
        case .json: rowCount == 0 ? "]\n" : "\n]\n"
        case .zeek: ZeekConnLog.footer(closedAt: closedAt ?? openedAt)
        default: ""
        }
    }

    /// Renders all rows at once.
    public func render(_ rows: [FlowRow]) -> String {
        if format == .table { return table(rows, includeHeader: true) }
        var out = header()
        for (index, row) in rows.enumerated() { out += streamRow(row, index: index) }
        return out + footer(rowCount: rows.count)
    }

    /// An aligned table: one line per flow, widths from the content, strings sanitized.
    public func table(_ rows: [FlowRow], includeHeader: Bool) -> String {
        let headers = ["START", "PROTO", "LOCAL", "DIR", "REMOTE", "SCOPE", "HOST", "OUT", "IN", "PKTS", "STATE", "PROCESS", "ROLE", "PEER"]
        var lines: [[String]] = []
        for r in rows {
            let time = Timestamp.local(r.start, milliseconds: true)
            let arrow = switch r.direction {
            case .outbound: "->"
            case .inbound: "<-"
            case .local: "<>"
            }
            let process = r.process.map { p in "\(p.displayName)[\(p.pid)]" }
                ?? (r.unattributedReason.map { "(\($0))" } ?? "-")
            let role = r.process.map { $0.role ?? FlowRow.noRole } ?? "-"
            let peer = r.peerProcess.map { p in "\(p.displayName)[\(p.pid)]\(p.role.map { " " + $0 } ?? "")" } ?? "-"
            lines.append([
                time, r.proto, Self.endpoint(r.localAddress, r.localPort, r.proto), arrow,
                Self.endpoint(r.remoteAddress, r.remotePort, r.proto), r.scope.rawValue,
                Sanitizer.clean(r.hostname ?? "-"), ByteCount.text(r.bytesOut), ByteCount.text(r.bytesIn),
                "\(r.packetsOut)/\(r.packetsIn)", r.connState, Sanitizer.clean(process), Sanitizer.clean(role), Sanitizer.clean(peer),
            ])
        }
        return TextTable(
            headers: headers, rows: lines, rightAligned: [7, 8, 9], terminal: terminal, terminalWidth: terminalWidth
        ).render(includeHeader: includeHeader)
    }

    static func endpoint(_ address: String, _ port: Int, _ proto: String) -> String {
        switch proto {
        case "tcp", "udp", "sctp": address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
        default: address
        }
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// Human byte counts: `512 B`, `1.5 KiB`, `3.2 MiB`.
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}
