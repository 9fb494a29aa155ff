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

    public init(_ kind: Kind, operation: String, message: String) {
        self.kind = kind
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
