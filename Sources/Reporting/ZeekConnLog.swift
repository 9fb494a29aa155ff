import Flows
import PacketParsing

/// Flows in the layout of Zeek's conn.log: Zeek's own columns in Zeek's order, then the process
/// columns Zeek does not have. TSV with Zeek's header lines (`#separator` … `#types`) or one JSON
/// object a line, the way Zeek writes each.
///
/// What differs from a conn.log written by Zeek, because Telltale does not reassemble streams:
/// `orig_bytes` and `resp_bytes` (payload bytes from TCP sequence numbers) are unset (`-`);
/// `orig_ip_bytes`/`resp_ip_bytes` carry the IP-layer bytes the JSON contract counts, and
/// `missed_bytes` is 0. `service` comes from the name evidence seen (`ssl` for TLS SNI, `quic`,
/// `http`, `dns` for port 53), else unset. The originator is the end that opened the flow:
/// the local end of outbound and local flows, the remote end of inbound ones.
public enum ZeekConnLog {
    /// Zeek's conn.log columns (Zeek 6, without optional scripts), then ours.
    public static let fields: [(name: String, type: String)] = [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"), ("duration", "interval"),
        ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"), ("local_orig", "bool"),
        ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
        ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
        ("tunnel_parents", "set[string]"),
        // Telltale's columns.
        ("community_id", "string"), ("hostname", "string"), ("name_source", "string"), ("pid", "count"),
        ("exe", "string"), ("sha256", "string"), ("comm", "string"), ("user", "string"), ("role", "string"),
        ("unit", "string"), ("container", "string"), ("peer_pid", "count"), ("peer_exe", "string"),
        ("peer_role", "string"), ("attribution_source", "string"), ("unattributed_reason", "string"),
        ("verdict", "string"), ("rule", "string"), ("program", "string"), ("program_kind", "string"),
        ("peer_program", "string"), ("content_visibility", "string"), ("prompt_matches", "count"),
    ]

    /// One value of a row: what Zeek would write for it.
    public enum Value: Equatable, Sendable {
        case unset
        case text(String)
        case count(Int64)
        /// Seconds, written with microseconds.
        case seconds(Int64)
        case bool(Bool)
        case emptySet
    }

    /// The header lines of a TSV log opened at `time` (nanoseconds since the epoch).
    public static func header(openedAt time: Int64) -> String {
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
            + "#open\t\(logTime(time))\n"
            + "#fields\t" + fields.map(\.name).joined(separator: "\t") + "\n"
            + "#types\t" + fields.map(\.type).joined(separator: "\t") + "\n"
    }

    /// The closing line of a TSV log.
    public static func footer(closedAt time: Int64) -> String { "#close\t\(logTime(time))\n" }

    /// Zeek's `#open`/`#close` time: local time in Zeek; UTC here, like the rest of Telltale.
    static func logTime(_ time: Int64) -> String {
        let text = Timestamp.rfc3339(time)  // 2026-11-29T10:00:00.123Z
        let date = text.prefix(10)
        let clock = text.dropFirst(11).prefix(8).replacingColons()
        return "\(date)-\(clock)"
    }

    /// The row's values, in `fields` order.
    public static func values(_ r: FlowRow) -> [Value] {
        let originatorIsLocal = r.direction != .inbound
        let origAddress = originatorIsLocal ? r.localAddress : r.remoteAddress
        let respAddress = originatorIsLocal ? r.remoteAddress : r.localAddress
        var origPort = originatorIsLocal ? r.localPort : r.remotePort
        var respPort = originatorIsLocal ? r.remotePort : r.localPort
        let isICMP = r.proto == "icmp" || r.proto == "icmpv6"
        if isICMP {
            // The row already holds Zeek's convention for ICMP: type as the originator's port, code as the responder's.
            origPort = r.localPort
            respPort = r.remotePort
        }
        let proto: String = switch r.proto {
        case "tcp", "udp": r.proto
        case "icmp", "icmpv6": "icmp"
        default: "unknown_transport"
        }
        func text(_ s: String?) -> Value { s.map { .text($0) } ?? .unset }
        func count(_ n: Int?) -> Value { n.map { .count(Int64($0)) } ?? .unset }
        return [
            .seconds(r.start), .text(r.uid), .text(origAddress), .count(Int64(origPort)), .text(respAddress),
            .count(Int64(respPort)), .text(proto), text(service(r)), .seconds(r.end - r.start), .unset, .unset,
            .text(r.connState), .bool(originatorIsLocal), .bool(r.direction != .outbound), .count(0),
            r.history.isEmpty ? .unset : .text(r.history),
            .count(originatorIsLocal ? r.packetsOut : r.packetsIn), .count(originatorIsLocal ? r.bytesOut : r.bytesIn),
            .count(originatorIsLocal ? r.packetsIn : r.packetsOut), .count(originatorIsLocal ? r.bytesIn : r.bytesOut),
            .unset,
            text(r.communityID.isEmpty ? nil : r.communityID), text(r.hostname), text(r.nameSource),
            count(r.process?.pid), text(r.process?.exe), text(r.process?.sha256), text(r.process?.comm),
            text(r.process?.user), text(r.process?.role), text(r.process?.unit), text(r.process?.container),
            count(r.peerProcess?.pid), text(r.peerProcess?.exe), text(r.peerProcess?.role), text(r.attributionSource),
            text(r.unattributedReason), .text(r.verdict.rawValue), text(r.rule), text(r.process?.program),
            text(r.process?.programKind), text(r.peerProcess?.program), text(r.content?.visibility),
            r.content.map { .count(Int64($0.promptMatches)) } ?? .unset,
        ]
    }

    /// Zeek's analyzer name for what was seen on the flow, when something was.
    static func service(_ r: FlowRow) -> String? {
        switch r.nameSource {
        case "sni": return "ssl"
        case "quic-sni": return "quic"
        case "http-host": return "http"
        default: break
        }
        if (r.proto == "udp" || r.proto == "tcp") && r.remotePort == 53 && r.direction != .inbound { return "dns" }
        return nil
    }

    /// One TSV line. Strings are escaped the way Zeek escapes them: the separator, backslash and
    /// every byte that is not printable ASCII become `\xHH`; a string that is exactly `-` or
    /// `(empty)` has its first character escaped so it cannot read as unset or empty, and an empty
    /// string is written `(empty)`, as Zeek does.
    public static func tsvLine(_ r: FlowRow) -> String {
        values(r).map { value in
            switch value {
            case .unset: "-"
            case .emptySet: "(empty)"
            case .count(let n): String(n)
            case .bool(let b): b ? "T" : "F"
            case .seconds(let ns): seconds(ns)
            case .text(let s): escape(s)
            }
        }.joined(separator: "\t") + "\n"
    }

    /// One JSON line as Zeek's JSON writer makes it: unset fields left out, `ts` in epoch seconds.
    public static func jsonLine(_ r: FlowRow) -> String {
        var w = JSONWriter()
        w.beginObject()
        for (field, value) in zip(fields, values(r)) {
            switch value {
            case .unset: continue
            case .emptySet: w.key(field.name); w.beginArray(); w.endArray()
            case .count(let n): w.key(field.name); w.int(n)
            case .bool(let b): w.key(field.name); w.bool(b)
            case .seconds(let ns): w.key(field.name); w.number(text: seconds(ns))
            case .text(let s): w.key(field.name); w.string(s)
            }
        }
        w.endObject()
        return w.text + "\n"
    }

    /// Nanoseconds as seconds with six decimals (Zeek's precision), exactly (no floating point).
    static func seconds(_ ns: Int64) -> String {
        let negative = ns < 0
        let micro = (negative ? -ns : ns) / 1_000
        let fraction = String(micro % 1_000_000)
        return (negative ? "-" : "") + "\(micro / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    static func escape(_ s: String) -> String {
        if s == "-" || s == "(empty)" { return "\\x" + hex(s.utf8.first ?? 0) + s.dropFirst() }
        if s.isEmpty { return "(empty)" }
        var out = ""
        for byte in s.utf8 {
            if byte < 0x20 || byte >= 0x7f || byte == 0x5c {
                out += "\\x" + hex(byte)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}

extension Substring {
    fileprivate func replacingColons() -> String { String(map { $0 == ":" ? "-" : $0 }) }
}
