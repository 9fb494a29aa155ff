public import Posix

/// A libpcap failure: what was being done, on what, and libpcap's own message (or the system
/// call's, kept in `cause`).
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case open, activate, filter, read, noSuchDevice, permissionDenied, truncated
        /// A record that cannot be read as it stands (the records before it were delivered).
        case damaged
    }

    public var kind: Kind
    /// The file or interface concerned.
    public var source: String
    public var message: String
    /// The system call that failed, when one did rather than libpcap.
    public var cause: SystemError?

    public init(_ kind: Kind, source: String, message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    /// A failed system call on `source`; `context` goes before the system's message ("write failed").
    public init(_ kind: Kind, source: String, cause: SystemError, context: String? = nil) {
        self.init(kind, source: source, message: context.map { "\($0): \(cause.message)" } ?? cause.message)
        self.cause = cause
    }

    public var description: String {
        switch kind {
        case .open: "cannot open \(source): \(message)"
        case .activate: "cannot start capture on \(source): \(message)"
        case .filter: "bad capture filter for \(source): \(message)"
        case .read: "read error on \(source): \(message)"
        case .noSuchDevice: "no such interface: \(source) (\(message))"
        case .permissionDenied:
            "permission denied capturing on \(source): run as root or give the binary CAP_NET_RAW (\(message))"
        case .truncated: "\(source) is truncated: \(message)"
        case .damaged: "\(source) is damaged: \(message)"
        }
    }
}
