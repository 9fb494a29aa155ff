public import Posix
public import Reporting

/// A directory that lets someone else check what `run` or `infer` said: the run's packets as
/// captured, its flows, the identities of its processes, the content match records, the audit, and
/// a `MANIFEST` with the sha256 of every file.
///
/// The `MANIFEST` is text: `telltale-evidence 1`, `version V` (Telltale's), `created T` (RFC 3339),
/// then one line per file in `sha256sum`'s format (`HASH  NAME`), so `sha256sum -c MANIFEST` checks
/// the files too (it counts the three header lines as "improperly formatted" and checks the rest).
/// `sha256sum MANIFEST` is then one fingerprint for the whole bundle, to publish or sign.
/// `telltale verify DIR` checks the hashes and re-derives the flows from the capture
/// (`EvidenceBundle+Verify.swift`).
///
/// The directory is made 0750 and its files are 0640, as the database is: they hold command lines.
public enum EvidenceBundle {
    /// The `MANIFEST`'s first line: the bundle's format and its version.
    public static let formatLine = "telltale-evidence 1"
    public static let manifestName = "MANIFEST"
    /// The run's frames cut after their transport headers, written by the capture thread while it runs.
    public static let captureName = "capture.pcapng"
    /// Every flow of the window, one JSON object a line, as `report --by flow --format ndjson` prints them.
    public static let flowsName = "flows.ndjson"
    /// Each distinct process of the flows: pid, start time, exe, sha256, command line.
    public static let processesName = "processes.ndjson"
    /// Content match records (what matched where, never the text itself), one JSON object a line.
    public static let contentName = "content.ndjson"
    public static let auditJSONName = "audit.json"
    public static let auditMarkdownName = "audit.md"
    /// The files a bundle holds beside its `MANIFEST`, in the order the `MANIFEST` lists them.
    public static let fileNames = [captureName, flowsName, processesName, contentName, auditJSONName, auditMarkdownName]

    /// Makes `directory` (0750) for a bundle, or takes an existing empty directory; refuses anything
    /// else, so a bundle never mixes with other files.
    public static func prepare(_ directory: String) throws(SystemError) {
        try PrivateFile.makeEmptyDirectory(directory, mode: 0o750)
    }

    /// Where the capture thread writes the frames of a bundle in `directory`.
    public static func capturePath(in directory: String) -> String { directory + "/" + captureName }

    /// Writes the bundle's files beside the capture already in `directory`, then the `MANIFEST`.
    /// - Parameters:
    ///   - flows: every flow of the window, as rows (the run's tree judged, the rest as they are).
    ///   - contentRecords: content match records, each one JSON object (line breaks become spaces).
    ///   - created: when the bundle was made, nanoseconds since the epoch.
    public static func write(
        to directory: String, flows: [FlowRow], audit: AuditReport, contentRecords: [String] = [], created: Int64
    ) throws(SystemError) {
        let files: [(String, String)] = [
            (flowsName, flowLines(flows)),
            (processesName, processLines(flows)),
            (contentName, contentRecords.map { oneLine($0) + "\n" }.joined()),
            (auditJSONName, audit.json()),
            (auditMarkdownName, audit.markdown()),
        ]
        for (name, text) in files {
            try PrivateFile.write(Array(text.utf8), to: directory + "/" + name, mode: 0o640)
        }
        var manifest = "\(formatLine)\nversion \(telltaleVersion)\ncreated \(Timestamp.rfc3339(created))\n"
        for name in fileNames {
            manifest += "\(try FileDigest.sha256(ofFileAt: directory + "/" + name))  \(name)\n"
        }
        try PrivateFile.write(Array(manifest.utf8), to: directory + "/" + manifestName, mode: 0o640)
    }

    /// The flows as `report --by flow --format ndjson` prints them.
    static func flowLines(_ flows: [FlowRow]) -> String {
        var out = ""
        for row in flows {
            var w = JSONWriter()
            row.writeJSON(to: &w)
            out += w.text + "\n"
        }
        return out
    }

    /// One line per distinct process of the flows (the opener and the peer of each), in the order first met.
    static func processLines(_ flows: [FlowRow]) -> String {
        var seen = Set<String>()
        var out = ""
        for process in flows.flatMap({ [$0.process, $0.peerProcess] }) {
            guard let process else { continue }
            // A pid with its start time is one process; pids are reused.
            guard seen.insert("\(process.pid) \(process.startTime.map(String.init) ?? process.exe ?? "")").inserted else { continue }
            var w = JSONWriter()
            w.beginObject()
            w.key("pid"); w.int(process.pid)
            w.key("start_time"); w.int(process.startTime)
            w.key("exe"); w.string(process.exe)
            w.key("sha256"); w.string(process.sha256)
            w.key("cmdline"); w.string(process.cmdline)
            w.key("comm"); w.string(process.comm)
            w.key("uid"); w.int(process.uid)
            w.key("user"); w.string(process.user)
            w.key("ppid"); w.int(process.ppid)
            w.key("parent_exe"); w.string(process.parentExe)
            w.key("unit"); w.string(process.unit)
            w.key("container"); w.string(process.container)
            w.key("role"); w.string(process.role)
            w.endObject()
            out += w.text + "\n"
        }
        return out
    }

    /// A record on one line: a line break inside JSON can only be whitespace between tokens.
    static func oneLine(_ record: String) -> String {
        String(record.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
