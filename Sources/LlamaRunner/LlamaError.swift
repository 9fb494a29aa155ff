public import Posix

/// An error from loading or running a model: what failed, on which operation, and why.
public struct LlamaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of failure, for callers that react differently to each.
    public enum Kind: String, Sendable, Equatable {
        case modelFileMissing
        case modelFileUnreadable
        case notGGUF
        case unsupportedVersion
        case corruptedModel
        case truncatedModel
        case loadFailed
        case contextFailed
        case promptTooLong
        case tokenizeFailed
        case decodeFailed
        case chatTemplateFailed
    }

    public var kind: Kind
    /// What the runner was doing, e.g. "load model /path/m.gguf".
    public var operation: String
    /// The reason, in words (llama.cpp's own message where it gave one).
    public var message: String
    /// The system call that failed, when one did rather than llama.cpp.
    public var cause: SystemError?

    public init(_ kind: Kind, operation: String, message: String) {
        self.kind = kind
        self.operation = operation
        self.message = message
    }

    /// A system call that failed during `operation`: the message is the system's.
    public init(_ kind: Kind, operation: String, cause: SystemError) {
        self.init(kind, operation: operation, message: cause.message)
        self.cause = cause
    }

    public var description: String { "\(operation): \(message)" }
}
