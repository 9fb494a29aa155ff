internal import CLlama
public import Foundation
public import Logging

/// A loaded model with one inference context: tokenizes, evaluates, samples and detokenizes.
///
/// This is the only file that touches llama.cpp pointers. It owns a `llama_model` and a
/// `llama_context` and frees them in `deinit`. An engine is used by one thread at a time: its calls
/// block for as long as llama.cpp computes, so call it from a thread of your own, not from the
/// cooperative pool.
public final class LlamaEngine {
    /// How to set up the context.
    public struct Options: Sendable, Equatable {
        /// Context length in tokens; nil takes the model's trained length, at most 4096.
        public var contextLength: Int?
        /// Threads for generation and prompt evaluation.
        public var threads: Int
        /// Most prompt tokens evaluated in one `llama_decode`.
        public var batchSize: Int

        /// The most threads accepted: llama.cpp crashes given far more than it can start.
        public static let maximumThreads = 1024

        public init(contextLength: Int? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount, batchSize: Int = 512) {
            self.contextLength = contextLength
            self.threads = threads
            self.batchSize = batchSize
        }
    }

    public let metadata: ModelMetadata
    public let modelFile: ModelFile
    public let options: Options

    // Non-nil for the engine's whole life: init throws before storing a nil one.
    private let model: OpaquePointer
    private let context: OpaquePointer
    private let vocab: OpaquePointer
    private let logger: Logger

    /// Checks the file, loads the model and creates its context.
    ///
    /// The corresponding C functions are `llama_model_load_from_file` and `llama_init_from_model`.
    public init(modelPath: String, options: Options = Options(), logger: Logger) throws(LlamaError) {
        LlamaLog.install(logger: logger)
        self.logger = logger
        self.options = options
        guard (1...Options.maximumThreads).contains(options.threads) else {
            throw LlamaError(.contextFailed, operation: "load model \(modelPath)",
                             message: "threads must be from 1 to \(Options.maximumThreads), not \(options.threads)")
        }
        let file = try ModelFile.inspect(path: modelPath, tensorBytes: LlamaEngine.tensorBytes)
        self.modelFile = file

        let operation = "load model \(modelPath)"
        var modelParameters = llama_model_default_params()
        modelParameters.n_gpu_layers = 0
        LlamaLog.clearLastError()
        guard let model = llama_model_load_from_file(modelPath, modelParameters) else {
            throw LlamaError(.loadFailed, operation: operation,
                             message: LlamaLog.lastError() ?? "llama.cpp could not load the model")
        }
        guard let vocab = llama_model_get_vocab(model) else {
            llama_model_free(model)
            throw LlamaError(.loadFailed, operation: operation, message: "the model has no vocabulary")
        }

        let trained = Int(llama_model_n_ctx_train(model))
        var contextParameters = llama_context_default_params()
        let contextLength = options.contextLength ?? min(max(trained, 1), 4096)
        guard contextLength > 0, contextLength <= Int(UInt32.max), options.threads > 0, options.batchSize > 0 else {
            llama_model_free(model)
            throw LlamaError(.contextFailed, operation: operation,
                             message: "context length, threads and batch size must be positive")
        }
        contextParameters.n_ctx = UInt32(contextLength)
        contextParameters.n_batch = UInt32(min(options.batchSize, contextLength))
        contextParameters.n_ubatch = contextParameters.n_batch
        contextParameters.n_threads = Int32(clamping: options.threads)
        contextParameters.n_threads_batch = Int32(clamping: options.threads)
        contextParameters.no_perf = true
        LlamaLog.clearLastError()
        guard let context = llama_init_from_model(model, contextParameters) else {
            llama_model_free(model)
            throw LlamaError(.contextFailed, operation: "create context for \(modelPath)",
                             message: LlamaLog.lastError() ?? "llama.cpp could not create a context")
        }
        self.model = model
        self.vocab = vocab
        self.context = context

        let description = LlamaEngine.string(capacity: 256) { llama_model_desc(model, $0, $1) } ?? ""
        self.metadata = ModelMetadata(
            path: modelPath,
            name: LlamaEngine.metadataString(model, key: "general.name"),
            architecture: LlamaEngine.metadataString(model, key: "general.architecture") ?? "unknown",
            description: description,
            parameterCount: llama_model_n_params(model),
            vocabularySize: Int(llama_vocab_n_tokens(vocab)),
            trainedContextLength: trained,
            contextLength: Int(llama_n_ctx(context)),
            embeddingLength: Int(llama_model_n_embd(model)),
            layerCount: Int(llama_model_n_layer(model)),
            fileSize: file.size,
            ggufVersion: file.header.version,
            tensorCount: file.header.tensorCount,
            hasChatTemplate: llama_model_chat_template(model, nil) != nil
        )
    }

    deinit {
        llama_free(context)
        llama_model_free(model)
    }

    // MARK: Tokens

    /// The tokens of `text`.
    ///
    /// The corresponding C function is `llama_tokenize`.
    public func tokenize(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) throws(LlamaError) -> [Int32] {
        let length = text.utf8.count
        guard length < Int(Int32.max) else {
            throw LlamaError(.tokenizeFailed, operation: "tokenize", message: "text of \(length) bytes is too long")
        }
        var tokens = [llama_token](repeating: 0, count: length + 8)
        for _ in 0..<2 {
            let count = text.withCString { cText in
                tokens.withUnsafeMutableBufferPointer { buffer in
                    llama_tokenize(vocab, cText, Int32(length), buffer.baseAddress, Int32(buffer.count), addSpecial, parseSpecial)
                }
            }
            if count >= 0 { return Array(tokens.prefix(Int(count))) }
            guard count != Int32.min else { break }
            tokens = [llama_token](repeating: 0, count: Int(-count))
        }
        throw LlamaError(.tokenizeFailed, operation: "tokenize", message: "llama.cpp could not tokenize the text")
    }

    /// The bytes of one token's text (control tokens render as nothing).
    ///
    /// The corresponding C function is `llama_token_to_piece`.
    public func pieceBytes(_ token: Int32) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 64)
        for _ in 0..<2 {
            let count = buffer.withUnsafeMutableBufferPointer {
                llama_token_to_piece(vocab, token, $0.baseAddress, Int32($0.count), 0, false)
            }
            if count >= 0 { return buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) } }
            buffer = [CChar](repeating: 0, count: Int(-count))
        }
        return []
    }

    /// The text of a token sequence.
    public func detokenize(_ tokens: [Int32]) -> String {
        var assembler = UTF8Assembler()
        var text = ""
        for token in tokens { text += assembler.append(pieceBytes(token)) }
        return text + assembler.flush()
    }

    /// Whether a token ends a generation (end of text, end of turn).
    public func isEndOfGeneration(_ token: Int32) -> Bool {
        llama_vocab_is_eog(vocab, token)
    }

    // MARK: Generation

    /// Evaluates `prompt` and generates up to `parameters.maxTokens` tokens, handing each new piece
    /// of text to `onText` as soon as it is a whole character. `onText` returns false to stop.
    ///
    /// Each call starts from an empty context. The corresponding C functions are `llama_decode`
    /// and `llama_sampler_sample`.
    public func generate(
        prompt: String,
        parameters: GenerationParameters = GenerationParameters(),
        onText: (String) -> Bool = { _ in true }
    ) throws(LlamaError) -> GenerationResult {
        var promptTokens = try tokenize(prompt, addSpecial: parameters.addSpecialTokens, parseSpecial: parameters.parseSpecialTokens)
        if promptTokens.isEmpty {
            let bos = llama_vocab_bos(vocab)
            guard bos >= 0 else {
                throw LlamaError(.tokenizeFailed, operation: "generate", message: "the prompt is empty and the model has no begin-of-text token")
            }
            promptTokens = [bos]
        }
        let contextLength = Int(llama_n_ctx(context))
        let room = contextLength - promptTokens.count
        guard room > 0 else {
            throw LlamaError(.promptTooLong, operation: "generate",
                             message: "the prompt has \(promptTokens.count) tokens; the context holds \(contextLength)")
        }
        let maxTokens = min(max(parameters.maxTokens, 0), room)

        let clock = ContinuousClock()
        let promptStart = clock.now
        if let memory = llama_get_memory(context) { llama_memory_clear(memory, true) }
        let batch = max(Int(llama_n_batch(context)), 1)
        try promptTokens.withUnsafeMutableBufferPointer { (buffer) throws(LlamaError) in
            guard let base = buffer.baseAddress else { return }
            var start = 0
            while start < buffer.count {
                let count = min(batch, buffer.count - start)
                let status = llama_decode(context, llama_batch_get_one(base + start, Int32(count)))
                guard status == 0 else {
                    throw LlamaError(.decodeFailed, operation: "evaluate prompt", message: "llama_decode returned \(status)")
                }
                start += count
            }
        }
        let promptSeconds = Self.seconds(clock.now - promptStart)

        let generationStart = clock.now
        let sampler = try makeSampler(parameters.sampling)
        defer { llama_sampler_free(sampler) }
        var assembler = UTF8Assembler()
        var text = ""
        var generated = 0
        var finish = FinishReason.length
        while generated < maxTokens {
            let token = llama_sampler_sample(sampler, context, -1)
            if llama_vocab_is_eog(vocab, token) {
                finish = .stop
                break
            }
            generated += 1
            let piece = assembler.append(pieceBytes(token))
            text += piece
            if !piece.isEmpty, !onText(piece) {
                finish = .cancelled
                break
            }
            guard generated < maxTokens else { break }
            // llama_sampler_sample has already accepted the token into the sampler's state.
            var next = token
            let status = withUnsafeMutablePointer(to: &next) { llama_decode(context, llama_batch_get_one($0, 1)) }
            guard status == 0 else {
                throw LlamaError(.decodeFailed, operation: "generate token \(generated)", message: "llama_decode returned \(status)")
            }
        }
        let rest = assembler.flush()
        if !rest.isEmpty {
            text += rest
            _ = onText(rest)
        }
        return GenerationResult(
            text: text, promptTokens: promptTokens.count, completionTokens: generated, finishReason: finish,
            promptSeconds: promptSeconds, generationSeconds: Self.seconds(clock.now - generationStart)
        )
    }

    /// A sampler chain for `sampling`; the caller frees it.
    private func makeSampler(_ sampling: Sampling) throws(LlamaError) -> UnsafeMutablePointer<llama_sampler> {
        var chainParameters = llama_sampler_chain_default_params()
        chainParameters.no_perf = true
        guard let chain = llama_sampler_chain_init(chainParameters) else {
            throw LlamaError(.contextFailed, operation: "create sampler", message: "llama_sampler_chain_init failed")
        }
        switch sampling {
        case .temperature(let temperature, let topP, let seed) where temperature > 0:
            llama_sampler_chain_add(chain, llama_sampler_init_top_p(min(max(topP, 0), 1), 1))
            llama_sampler_chain_add(chain, llama_sampler_init_temp(temperature))
            llama_sampler_chain_add(chain, llama_sampler_init_dist(seed))
        case .greedy, .temperature:
            llama_sampler_chain_add(chain, llama_sampler_init_greedy())
        }
        return chain
    }

    // MARK: Chat

    /// The prompt for a chat, through the model's chat template (ChatML when it has none), ending
    /// where the assistant's answer begins.
    ///
    /// The corresponding C function is `llama_chat_apply_template`.
    public func chatPrompt(_ messages: [ChatMessage]) throws(LlamaError) -> String {
        let template = llama_model_chat_template(model, nil).map { String(cString: $0) } ?? "chatml"
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        defer { cStrings.forEach { free($0) } }
        var chat: [llama_chat_message] = []
        for message in messages {
            guard let role = strdup(message.role), let content = strdup(message.content) else {
                throw LlamaError(.chatTemplateFailed, operation: "format chat", message: "out of memory")
            }
            cStrings.append(role)
            cStrings.append(content)
            chat.append(llama_chat_message(role: role, content: content))
        }
        var capacity = max(256, messages.reduce(0) { $0 + $1.content.utf8.count + $1.role.utf8.count } * 2 + 256)
        for _ in 0..<2 {
            var buffer = [CChar](repeating: 0, count: capacity)
            let count = template.withCString { cTemplate in
                buffer.withUnsafeMutableBufferPointer {
                    llama_chat_apply_template(cTemplate, chat, chat.count, true, $0.baseAddress, Int32(clamping: $0.count))
                }
            }
            guard count >= 0 else {
                throw LlamaError(.chatTemplateFailed, operation: "format chat",
                                 message: "llama.cpp does not support this model's chat template")
            }
            if Int(count) <= capacity {
                return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = Int(count) + 1
        }
        throw LlamaError(.chatTemplateFailed, operation: "format chat", message: "the formatted chat kept growing")
    }

    // MARK: Helpers

    /// The byte size of a tensor, or nil for a type ggml does not know or a shape it cannot hold.
    static func tensorBytes(type: UInt32, dimensions: [UInt64]) -> UInt64? {
        guard type < GGML_TYPE_COUNT.rawValue, let first = dimensions.first else { return nil }
        let ggmlType = ggml_type(rawValue: type)
        let block = ggml_blck_size(ggmlType)
        let typeSize = ggml_type_size(ggmlType)
        guard block > 0, typeSize > 0, first % UInt64(block) == 0 else { return nil }
        var (total, overflow) = (first / UInt64(block)).multipliedReportingOverflow(by: UInt64(typeSize))
        for dimension in dimensions.dropFirst() where !overflow {
            (total, overflow) = total.multipliedReportingOverflow(by: dimension)
        }
        return overflow ? nil : total
    }

    private static func metadataString(_ model: OpaquePointer, key: String) -> String? {
        string(capacity: 256) { llama_model_meta_val_str(model, key, $0, $1) }
    }

    /// Calls a C function that writes a NUL-terminated string into a buffer and returns its length
    /// (negative on failure), growing the buffer once if the string did not fit.
    private static func string(capacity: Int, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> String? {
        var size = capacity
        for _ in 0..<2 {
            var buffer = [CChar](repeating: 0, count: size)
            let count = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }  // non-empty array: base exists
            guard count >= 0 else { return nil }
            if Int(count) < size {
                return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            size = Int(count) + 1
        }
        return nil
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Routes llama.cpp's and ggml's log lines to swift-log, and remembers the last error line so that
/// a failed call can say why.
enum LlamaLog {
    /// State shared with the C callback, which cannot capture context.
    private final class Sink: @unchecked Sendable {
        // Every field is read and written under `lock` only.
        let lock = NSLock()
        var logger = Logger(label: "llama.cpp")
        var line = ""
        var lineLevel = GGML_LOG_LEVEL_INFO
        var lastError: String?
    }

    private static let sink = Sink()

    private static let installed: Void = {
        llama_log_set({ level, text, _ in LlamaLog.receive(level: level, text: text) }, nil)
        llama_backend_init()
    }()

    static func install(logger: Logger) {
        sink.lock.withLock {
            sink.logger = logger
            sink.logger[metadataKey: "library"] = "llama.cpp"
        }
        _ = installed
    }

    static func clearLastError() {
        sink.lock.withLock { sink.lastError = nil }
    }

    static func lastError() -> String? {
        sink.lock.withLock { sink.lastError }
    }

    private static func receive(level: ggml_log_level, text: UnsafePointer<CChar>?) {
        guard let text else { return }
        let fragment = String(cString: text)
        sink.lock.withLock {
            // A CONT line continues the previous one at its level.
            if level != GGML_LOG_LEVEL_CONT { sink.lineLevel = level }
            sink.line += fragment
            while let newline = sink.line.firstIndex(of: "\n") {
                let line = String(sink.line[..<newline])
                sink.line = String(sink.line[sink.line.index(after: newline)...])
                emit(line, level: sink.lineLevel)
            }
        }
    }

    /// Called with `sink.lock` held.
    private static func emit(_ line: String, level: ggml_log_level) {
        guard !line.isEmpty else { return }
        switch level {
        case GGML_LOG_LEVEL_ERROR:
            sink.lastError = line
            sink.logger.error("\(line)")
        case GGML_LOG_LEVEL_WARN:
            sink.logger.warning("\(line)")
        case GGML_LOG_LEVEL_DEBUG:
            sink.logger.trace("\(line)")
        default:
            sink.logger.debug("\(line)")
        }
    }
}
