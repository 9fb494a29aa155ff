import Flows
import PacketParsing

extension FlowRow {
    /// Writes the row as one JSON object with the contract's keys, in the contract's order.
    public func writeJSON(to w: inout JSONWriter) {
        w.beginObject()
        w.key("uid"); w.string(uid)
        w.key("start"); w.string(Timestamp.rfc3339(start))
        w.key("end"); w.string(Timestamp.rfc3339(end))
        w.key("duration"); w.double(Double(end - start) / 1e9)
        w.key("proto"); w.string(proto)
        w.key("ip_version"); w.int(ipVersion)
        w.key("local_addr"); w.string(localAddress)
        w.key("local_port"); w.int(localPort)
        w.key("remote_addr"); w.string(remoteAddress)
        w.key("remote_port"); w.int(remotePort)
        w.key("direction"); w.string(direction.rawValue)
        w.key("scope"); w.string(scope.rawValue)
        w.key("bytes_out"); w.int(bytesOut)
        w.key("bytes_in"); w.int(bytesIn)
        w.key("packets_out"); w.int(packetsOut)
        w.key("packets_in"); w.int(packetsIn)
        w.key("conn_state"); w.string(connState)
        w.key("history"); w.string(history)
        w.key("community_id"); w.string(communityID)
        w.key("icmp_id"); w.int(icmpIdentifier)
        w.key("hostname"); w.string(hostname)
        w.key("name_source"); w.string(nameSource)
        w.key("ech"); w.bool(encryptedClientHello)
        w.key("process"); FlowRow.write(process, to: &w)
        w.key("peer_process"); FlowRow.write(peerProcess, to: &w)
        w.key("attribution_source"); w.string(attributionSource)
        w.key("unattributed_reason"); w.string(unattributedReason)
        w.key("verdict"); w.string(verdict.rawValue)
        w.key("rule"); w.string(rule)
        w.key("content")
        if let content {
            w.beginObject()
            w.key("visibility"); w.string(content.visibility)
            w.key("prompt_matches"); w.int(content.promptMatches)
            w.endObject()
        } else {
            w.null()
        }
        w.key("seq"); w.int(sequence)
        w.endObject()
    }

    private static func write(_ process: Process?, to w: inout JSONWriter) {
        guard let p = process else { return w.null() }
        w.beginObject()
        w.key("pid"); w.int(p.pid)
        w.key("exe"); w.string(p.exe)
        w.key("sha256"); w.string(p.sha256)
        w.key("cmdline"); w.string(p.cmdline)
        w.key("comm"); w.string(p.comm)
        w.key("uid"); w.int(p.uid)
        w.key("user"); w.string(p.user)
        w.key("ppid"); w.int(p.ppid)
        w.key("parent_exe"); w.string(p.parentExe)
        w.key("unit"); w.string(p.unit)
        w.key("container"); w.string(p.container)
        // No role is the role "other", in every format (table, JSON, CSV, metrics).
        w.key("role"); w.string(p.role ?? FlowRow.noRole)
        w.key("program"); w.string(p.program)
        w.key("program_kind"); w.string(p.programKind)
        w.key("role_source"); w.string(p.roleSource)
        w.endObject()
    }

    /// The columns of the CSV format, in order.
    public static let csvHeader = [
        "uid", "start", "end", "proto", "ip_version", "local_addr", "local_port", "remote_addr", "remote_port",
        "direction", "scope", "bytes_out", "bytes_in", "packets_out", "packets_in", "conn_state", "history",
        "community_id", "hostname", "name_source", "pid", "exe", "cmdline", "user", "role",
        "unattributed_reason", "verdict", "rule", "attribution_source", "peer_pid", "peer_exe", "peer_role",
        "program", "program_kind", "peer_program", "content_visibility", "prompt_matches",
    ]

    public var csvFields: [String] {
        [
            uid, Timestamp.rfc3339(start), Timestamp.rfc3339(end), proto, String(ipVersion), localAddress,
            String(localPort), remoteAddress, String(remotePort), direction.rawValue, scope.rawValue,
            String(bytesOut), String(bytesIn), String(packetsOut), String(packetsIn), connState, history,
            communityID, hostname ?? "", nameSource ?? "", process.map { String($0.pid) } ?? "",
            process?.exe ?? "", process?.cmdline ?? "", process?.user ?? "", process.map { $0.role ?? FlowRow.noRole } ?? "",
            unattributedReason ?? "", verdict.rawValue, rule ?? "", attributionSource ?? "",
            peerProcess.map { String($0.pid) } ?? "", peerProcess?.exe ?? "", peerProcess?.role ?? "",
            process?.program ?? "", process?.programKind ?? "", peerProcess?.program ?? "",
            content?.visibility ?? "", content.map { String($0.promptMatches) } ?? "",
        ]
    }

    /// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180); a leading `=`, `+`,
    /// `-`, `@`, tab or carriage return is prefixed with `'` so spreadsheets do not run it as a
    /// formula (OWASP's advice; a negative number is left alone).
    public static func csvQuote(_ field: String) -> String {
        var field = field
        if let first = field.unicodeScalars.first, "=+@\t\r".unicodeScalars.contains(first) || (first == "-" && Int(field) == nil) {
            field = "'" + field
        }
        if field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return field
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
