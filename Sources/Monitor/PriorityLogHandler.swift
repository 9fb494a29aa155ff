public import Logging
import Foundation
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Writes log lines to standard error, each carrying its syslog priority as journald reads it
/// (`<4>` before a warning: sd-daemon(3)), or, on a terminal or a file, with a time and the level.
///
/// Every line of a message carries the prefix: journald splits on line breaks, and a multi-line
/// message (the problems of a broken rules file) stays at its priority. Metadata follows the message
/// as `key=value`, sorted.
public struct PriorityLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        /// `<N>` prefixes when standard error is the journal ($JOURNAL_STREAM names it), else plain.
        case auto
        /// `<N>message`, for journald and any syslog-priority reader.
        case journal
        /// `TIME LEVEL message`.
        case plain

        /// What `auto` means for this process's standard error.
        public func resolved(environment: [String: String]) -> Format {
            guard self == .auto else { return self }
            return PriorityLogHandler.standardErrorIsJournal(environment) ? .journal : .plain
        }
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let format: Format
    let write: @Sendable (String) -> Void

    public init(level: Logger.Level, format: Format, write: @escaping @Sendable (String) -> Void = PriorityLogHandler.standardError) {
        logLevel = level
        self.format = format.resolved(environment: ProcessInfo.processInfo.environment)
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority of a level: debug 7, info 6, notice 5, warning 4, error 3, critical 2.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let text = Self.line(level: event.level, message: "\(event.message)", metadata: merged, format: format, time: Date())
        write(text)
    }

    /// The text written for one message (every line ends in a line break).
    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata, format: Format, time: Date) -> String {
        var body = message
        if !metadata.isEmpty {
            body += " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        switch format {
        case .journal, .auto:
            let prefix = "<\(priority(level))>"
            return lines.map { prefix + $0 + "\n" }.joined()
        case .plain:
            let stamp = localStamp(time)
            let head = "\(stamp) \(level.rawValue) "
            return lines.enumerated().map { ($0.offset == 0 ? head : String(repeating: " ", count: head.count)) + $0.element + "\n" }.joined()
        }
    }

    /// `2026-12-05T05:01:02+0100`: local time with its offset.
    static func localStamp(_ time: Date) -> String {
        var seconds = time_t(time.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether $JOURNAL_STREAM names this process's standard error (device:inode), as systemd
    /// sets it for a service whose output goes to the journal.
    static func standardErrorIsJournal(_ environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        guard let identity = fileIdentity(ofDescriptor: 2) else { return false }
        return identity.device == device && identity.inode == inode
    }

    /// Writes to file descriptor 2 in one call per message, so lines of two threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { text in
        try? FileDescriptor.writeAll(2, text.utf8, what: "write standard error")
    }
}
