import Flows
/// Learning mode: the (program, destination) pairs seen during a learning period; afterwards a
/// flow whose pair is not in the baseline raises an alert.
///
/// A program is keyed by its executable's path (the default: an update of the program keeps its
/// baseline) or, strictly, by the executable's sha256 (`--by hash`: any change of the file is a new
/// program). The destination is the observed host name when known, else the address.
///
/// The file is for people to review: a header that says what wrote it and how it is keyed, then one
/// entry a line with the program's name, executable, hash, destination, first and last time seen
/// and the number of flows. Fields are tab-separated and percent-escaped, so a path holding a tab,
/// a newline or a terminal escape cannot make a second entry or rewrite the screen of whoever
/// reads it; a file without the header, or with raw control characters, is refused.
public struct Baseline: Sendable, Equatable {
    /// What a program is matched by.
    public enum Key: String, Sendable, CaseIterable {
        case path, hash
    }

    public struct Pair: Sendable, Hashable {
        /// The executable's path (`comm:NAME` when it is not known), or with `.hash` `sha256:HEX`.
        public var program: String
        public var destination: String
        public init(program: String, destination: String) {
            self.program = program
            self.destination = destination
        }
    }

    /// What the file says of one pair.
    public struct Entry: Sendable, Equatable {
        /// The program's name as people know it (`open-webui`), else its command name.
        public var name: String
        /// The executable's path, or `comm:NAME` when it is not known.
        public var exe: String
        public var sha256: String?
        public var destination: String
        /// Nanoseconds since the epoch.
        public var firstSeen: Int64
        public var lastSeen: Int64
        public var flows: Int64
    }

    /// Why a baseline file was refused, with its line.
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public let key: Key
    public private(set) var entries: [Pair: Entry] = [:]
    public var pairs: Set<Pair> { Set(entries.keys) }

    /// The rule id learning-mode alerts carry.
    public static let ruleID = "learning/new-destination"
    /// The first line of every baseline file.
    public static let magic = "# telltale baseline 2"
    static let columns = ["program", "exe", "sha256", "destination", "first_seen", "last_seen", "flows"]

    public init(key: Key = .path) {
        self.key = key
    }

    static func exe(_ process: ProcessFacts?) -> String {
        guard let process else { return "unattributed" }
        if let path = process.exePath { return String(path) }
        return "comm:" + (process.comm ?? "?")
    }

    static func programKey(exe: String, sha256: String?, key: Key) -> String {
        if key == .hash, let sha256, !sha256.isEmpty { return "sha256:" + sha256 }
        return exe
    }

    public func pair(_ facts: FlowFacts) -> Pair {
        let program = Baseline.programKey(exe: Baseline.exe(facts.process), sha256: facts.process?.sha256, key: key)
        let destination = facts.hostname.map { $0.lowercased() } ?? "\(facts.remoteAddress)"
        return Pair(program: program, destination: destination)
    }

    /// Records the flow's pair, seen from `start` to `end`; returns whether it was new.
    @discardableResult
    public mutating func record(_ facts: FlowFacts, start: Int64 = 0, end: Int64 = 0) -> Bool {
        let pair = pair(facts)
        if var entry = entries[pair] {
            entry.firstSeen = min(entry.firstSeen, start)
            entry.lastSeen = max(entry.lastSeen, end)
            entry.flows += 1
            if entry.sha256 == nil { entry.sha256 = facts.process?.sha256 }
            entries[pair] = entry
            return false
        }
        let process = facts.process
        entries[pair] = Entry(
            name: process?.program ?? process?.comm ?? "unattributed", exe: Baseline.exe(process),
            sha256: process?.sha256.flatMap { $0.isEmpty ? nil : $0 }, destination: pair.destination,
            firstSeen: start, lastSeen: max(start, end), flows: 1)
        return true
    }

    public func contains(_ facts: FlowFacts) -> Bool {
        entries[pair(facts)] != nil
    }

    /// The decision with learning applied: a pair outside the baseline turns a flow that is not
    /// already an alert into one (severity `medium`).
    public func check(_ facts: FlowFacts, _ decision: Decision) -> Decision {
        guard decision.verdict != .alert, !contains(facts) else { return decision }
        var d = decision
        d.verdict = .alert
        d.rule = Baseline.ruleID
        d.severity = .medium
        let pair = pair(facts)
        let name = facts.process?.program ?? facts.process?.comm
        let program = name.map { "\($0) (\(pair.program))" } ?? pair.program
        d.message = "\(program) reached \(pair.destination), which it never reached while learning"
        return d
    }

    /// The file's text: the header (`notes` become comment lines, such as what was learnt from),
    /// then the entries by program and destination; `time` writes a timestamp.
    public func text(notes: [String] = [], time: (Int64) -> String) -> String {
        var out = Baseline.magic + " (written by telltale rules learn; the daemon reads it with --baseline or baseline:)\n"
        for note in notes { out += "# " + Baseline.escaped(note) + "\n" }
        out += "# key: \(key.rawValue)  ("
            + (key == .path ? "a program is matched by its executable's path" : "a program is matched by its executable's sha256")
            + "; fields are tab-separated, %XX stands for a byte that is not plain text)\n"
        out += "# " + Baseline.columns.joined(separator: "\t") + "\n"
        let sorted = entries.values.sorted { ($0.exe, $0.destination) < ($1.exe, $1.destination) }
        for e in sorted {
            let fields = [e.name, e.exe, e.sha256 ?? "-", e.destination, time(e.firstSeen), time(e.lastSeen), String(e.flows)]
            out += fields.map(Baseline.escaped).joined(separator: "\t") + "\n"
        }
        return out
    }

    /// Reads the text `learn` wrote; `time` reads a timestamp back. Anything else is refused with
    /// its line: a file without the header, a raw control character, an entry of the wrong shape.
    public init(parsing text: String, time: (String) -> Int64?) throws(Problem) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix(Baseline.magic) else {
            throw Problem(line: 1, message: "not a baseline written by telltale rules learn (its first line is '\(Baseline.magic) …'); write one with: telltale rules learn --since 7d --out FILE")
        }
        var key: Key?
        var entries: [Pair: Entry] = [:]
        for (index, line) in lines.enumerated() {
            let number = index + 1
            if let bad = line.unicodeScalars.first(where: { $0 != "\t" && $0 != "%" && Baseline.needsEscape($0) }) {
                throw Problem(line: number, message: "holds the raw control character U+\(String(bad.value, radix: 16, uppercase: true)); learn writes it as %XX, so this file was changed by hand")
            }
            if line.hasPrefix("#") {
                if line.hasPrefix("# key: ") {
                    let word = line.dropFirst(7).prefix { $0 != " " }
                    guard let k = Key(rawValue: String(word)) else {
                        throw Problem(line: number, message: "unknown key '\(word)' (known: path, hash)")
                    }
                    key = k
                }
                continue
            }
            if line.isEmpty { continue }
            guard let key else { throw Problem(line: number, message: "an entry before the '# key: path|hash' line") }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { Baseline.unescaped(String($0)) }
            guard fields.count == Baseline.columns.count else {
                throw Problem(line: number, message: "expected \(Baseline.columns.count) tab-separated fields (\(Baseline.columns.joined(separator: ", "))), found \(fields.count)")
            }
            guard let name = fields[0], let exe = fields[1], let sha = fields[2], let destination = fields[3] else {
                throw Problem(line: number, message: "a field holds a % that is not followed by two hexadecimal digits")
            }
            guard !exe.isEmpty, !destination.isEmpty else { throw Problem(line: number, message: "an entry needs its exe and destination") }
            guard let firstSeen = fields[4].flatMap(time), let lastSeen = fields[5].flatMap(time) else {
                throw Problem(line: number, message: "first_seen and last_seen must be times such as 2026-11-29T10:00:00Z")
            }
            guard let flows = fields[6].flatMap({ Int64($0) }), flows >= 0 else {
                throw Problem(line: number, message: "flows must be a number")
            }
            let sha256 = sha == "-" ? nil : sha
            let pair = Pair(program: Baseline.programKey(exe: exe, sha256: sha256, key: key), destination: destination)
            entries[pair] = Entry(name: name, exe: exe, sha256: sha256, destination: destination, firstSeen: firstSeen, lastSeen: lastSeen, flows: flows)
        }
        self.key = key ?? .path
        self.entries = entries
    }

    /// Whether a character is written as %XX: `%` itself, C0 and C1 controls, DEL, and the marks
    /// that reorder or hide text (bidirectional overrides and isolates, line separators).
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x25: true
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0x061C, 0xFEFF: true
        default: false
        }
    }

    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            for byte in String(scalar).utf8 {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The text with each %XX back as its byte, or nil when a % is not followed by two hex digits.
    static func unescaped(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) else { return nil }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
