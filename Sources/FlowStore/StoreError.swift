public import Posix

/// A database failure: what was being done, on which file, and SQLite's own message.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file is not a Telltale database (another application's, or not SQLite at all).
        case notOurs
        /// The database was written by a newer Telltale, with migrations this one does not know.
        case tooNew
        /// The disk or the file system is full.
        case diskFull
        /// The file cannot be opened or read (permissions, missing directory).
        case unavailable
        /// The file is damaged.
        case corrupt
        /// Any other SQLite failure.
        case failed
    }

    public var kind: Kind
    public var operation: String
    public var path: String
    public var message: String
    /// The system call that failed, when one did rather than SQLite.
    public var cause: SystemError?

    public init(_ kind: Kind, operation: String, path: String, message: String) {
        self.kind = kind
        self.operation = operation
        self.path = path
        self.message = message
    }

    /// A system call that failed on `path`: the message is the system's.
    public init(_ kind: Kind, operation: String, path: String, cause: SystemError) {
        self.init(kind, operation: operation, path: path, message: cause.message)
        self.cause = cause
    }

    public var description: String {
        switch kind {
        case .notOurs:
            "\(path) is not a Telltale database (\(message)); it was left untouched — choose another file with --db"
        case .tooNew:
            "\(path) was written by a newer Telltale (\(message)); upgrade telltale to read it"
        case .diskFull:
            "\(operation) failed on \(path): the disk is full (\(message))"
        case .unavailable:
            "cannot open \(path) (\(operation)): \(message)"
        case .corrupt:
            "\(path) is damaged (\(operation)): \(message)"
        case .failed:
            "\(operation) failed on \(path): \(message)"
        }
    }
}
