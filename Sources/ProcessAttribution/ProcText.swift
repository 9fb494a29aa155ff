/// Pure parsers for the per-process files of /proc and for /etc/passwd.
public enum ProcText {
    /// The fields of `/proc/PID/stat` that identity needs.
    public struct Stat: Sendable, Equatable {
        public var comm: String
        public var state: Character
        public var ppid: Int32
        /// Field 22: start time in clock ticks since boot.
        public var startTime: UInt64
    }

    /// Parses `/proc/PID/stat`. The comm field is in parentheses and may itself hold spaces and
    /// parentheses, so the fields after it are counted from the last ')'.
    public static func stat(_ text: some StringProtocol) -> Stat? {
        let text = Substring(text)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state), so field N is rest[N - 3].
        guard rest.count >= 20, let state = rest[0].first, let ppid = Int32(rest[1]),
              let start = UInt64(rest[19])
        else { return nil }
        return Stat(comm: comm, state: state, ppid: ppid, startTime: start)
    }

    /// The real uid from the `Uid:` line of `/proc/PID/status`.
    public static func uid(fromStatus text: some StringProtocol) -> UInt32? {
        for line in text.split(separator: "\n") where line.hasPrefix("Uid:") {
            let fields = line.dropFirst(4).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first else { return nil }
            return UInt32(first)
        }
        return nil
    }

    /// Splits `/proc/PID/cmdline` (NUL-separated, usually NUL-terminated) into arguments.
    public static func arguments(fromCmdline bytes: some Collection<UInt8>) -> [String] {
        var parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// The inode in a link like `socket:[12345]` or `net:[4026531840]` whose prefix is `kind`.
    public static func inode(inLink link: some StringProtocol, kind: String) -> UInt64? {
        let utf8 = Array(link.utf8)
        let prefix = Array(kind.utf8) + [UInt8(ascii: ":"), UInt8(ascii: "[")]
        guard utf8.count > prefix.count + 1, utf8.starts(with: prefix), utf8.last == UInt8(ascii: "]") else { return nil }
        var value: UInt64 = 0
        for byte in utf8[prefix.count..<(utf8.count - 1)] {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// The cgroup path of `/proc/PID/cgroup`: the unified (`0::`) line when present, else the
    /// `name=systemd` line, else the first non-root path.
    public static func cgroupPath(_ text: some StringProtocol) -> String? {
        var named: String?
        var other: String?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty { return path }
            if parts[1] == "name=systemd" { named = path }
            if other == nil && path != "/" { other = path }
        }
        return named ?? other
    }

    /// Maps uids to names from the text of /etc/passwd.
    public static func users(fromPasswd text: some StringProtocol) -> [UInt32: String] {
        var users: [UInt32: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 3, !fields[0].isEmpty, let uid = UInt32(fields[2]) else { continue }
            if users[uid] == nil { users[uid] = String(fields[0]) }
        }
        return users
    }
}
