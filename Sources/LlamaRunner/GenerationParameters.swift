/// How to pick each next token.
public enum Sampling: Sendable, Equatable {
    /// Always the most likely token.
    case greedy
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `topP`, scale
    /// logits by 1/`temperature`, and draw with a generator seeded by `seed`.
    case temperature(Float, topP: Float, seed: UInt32)
}

/// What to generate.
public struct GenerationParameters: Sendable, Equatable {
    /// The most tokens to generate; fewer when the model ends its answer.
    public var maxTokens: Int
    public var sampling: Sampling
    /// Whether to add the model's begin-of-text token, if it asks for one.
    public var addSpecialTokens: Bool
    /// Whether control-token text in the prompt (e.g. "<|im_start|>") becomes those tokens.
    public var parseSpecialTokens: Bool

    public init(maxTokens: Int = 128, sampling: Sampling = .greedy, addSpecialTokens: Bool = true, parseSpecialTokens: Bool = true) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.addSpecialTokens = addSpecialTokens
        self.parseSpecialTokens = parseSpecialTokens
    }
}

/// Why a generation stopped.
public enum FinishReason: String, Sendable, Equatable, Codable {
    /// `maxTokens` were generated (OpenAI's "length").
    case length
    /// The model produced an end-of-generation token (OpenAI's "stop").
    case stop
    /// The text callback asked to stop.
    case cancelled
}

/// The outcome of one generation.
public struct GenerationResult: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var completionTokens: Int
    public var finishReason: FinishReason
    /// Time to evaluate the prompt.
    public var promptSeconds: Double
    /// Time from the first sampled token to the last one decoded.
    public var generationSeconds: Double

    /// Completion tokens per second of generation (0 when nothing was generated).
    public var tokensPerSecond: Double {
        generationSeconds > 0 ? Double(completionTokens) / generationSeconds : 0
    }
    /// Prompt tokens per second of prompt evaluation.
    public var promptTokensPerSecond: Double {
        promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0
    }
}

/// One message of a chat, for a model's chat template.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}
