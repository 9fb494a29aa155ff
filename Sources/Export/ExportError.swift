public import Posix

/// An export could not be set up or could not deliver: the operation and the system's message.
public struct ExportError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    /// A system call that failed: its operation, and the system's message for its errno.
    public init(_ failure: SystemError) {
        self.init(failure.operation, failure.message)
    }

    public var description: String { "\(operation): \(message)" }
}
