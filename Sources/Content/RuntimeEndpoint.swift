/// A model-runtime API a request was sent to, recognised from its method and path.
///
/// Paths match by suffix on a segment boundary, so a proxy prefix (`/ollama/api/chat`,
/// `/openai/v1/chat/completions`) is tolerated.
public enum RuntimeEndpoint: String, Sendable, Hashable, CaseIterable {
    /// OpenAI-compatible chat: `messages`.
    case chatCompletions = "/v1/chat/completions"
    /// OpenAI-compatible legacy completions: `prompt`, `suffix`.
    case completions = "/v1/completions"
    /// OpenAI Responses: `input`, `instructions`.
    case responses = "/v1/responses"
    /// OpenAI-compatible embeddings: `input`.
    case embeddings = "/v1/embeddings"
    /// Ollama chat: `messages`.
    case ollamaChat = "/api/chat"
    /// Ollama generate: `prompt`, `system`, `suffix`.
    case ollamaGenerate = "/api/generate"
    /// Ollama embeddings: `input`.
    case ollamaEmbed = "/api/embed"
    /// Ollama's older embeddings: `prompt`.
    case ollamaEmbeddings = "/api/embeddings"
    /// llama.cpp server completion: `prompt`.
    case llamaCompletion = "/completion"
    /// llama.cpp server completion, plural alias: `prompt`.
    case llamaCompletions = "/completions"
    /// llama.cpp server infill: `input_prefix`, `input_suffix`, `input_extra`, `prompt`.
    case llamaInfill = "/infill"

    // Longest first, so `/v1/completions` wins over `/completions`.
    private static let bySuffixLength = allCases.sorted { $0.rawValue.count > $1.rawValue.count }

    /// The endpoint a request reaches, or nil.
    public init?(request: HTTPRequestStream.Request) {
        self.init(method: request.method, path: request.path)
    }

    /// The endpoint a `POST` to `path` (query already removed) reaches, or nil.
    public init?(method: String, path: String) {
        guard method == "POST" else { return nil }
        var path = Substring(path)
        while path.count > 1, path.last == "/" { path.removeLast() }
        for endpoint in Self.bySuffixLength where path.hasSuffix(endpoint.rawValue) {
            self = endpoint
            return
        }
        return nil
    }
}
