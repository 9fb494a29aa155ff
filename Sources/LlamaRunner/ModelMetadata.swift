/// What the runner reports about a loaded model.
public struct ModelMetadata: Sendable, Equatable, Codable {
    /// The model file as given.
    public var path: String
    /// `general.name`, when the file has one.
    public var name: String?
    /// `general.architecture`, e.g. "llama".
    public var architecture: String
    /// llama.cpp's one-line description, e.g. "llama ?B all F32".
    public var description: String
    public var parameterCount: UInt64
    public var vocabularySize: Int
    /// The context length the model was trained with.
    public var trainedContextLength: Int
    /// The context length of this runner's context.
    public var contextLength: Int
    public var embeddingLength: Int
    public var layerCount: Int
    public var fileSize: UInt64
    public var ggufVersion: UInt32
    public var tensorCount: UInt64
    /// Whether the file carries a chat template.
    public var hasChatTemplate: Bool

    enum CodingKeys: String, CodingKey {
        case path, name, architecture, description
        case parameterCount = "parameter_count"
        case vocabularySize = "vocab_size"
        case trainedContextLength = "trained_context_length"
        case contextLength = "context_length"
        case embeddingLength = "embedding_length"
        case layerCount = "layer_count"
        case fileSize = "file_size"
        case ggufVersion = "gguf_version"
        case tensorCount = "tensor_count"
        case hasChatTemplate = "has_chat_template"
    }
}
