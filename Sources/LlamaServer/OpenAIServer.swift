public import LlamaRunner
public import HTTP
public import Logging
import Foundation

/// The OpenAI-compatible HTTP API over one loaded model: `/v1/models`, `/v1/completions` and
/// `/v1/chat/completions` (whole or streamed as server-sent events).
///
/// Requests are answered one generation at a time: the engine has one context.
public final class OpenAIServer: Sendable {
    /// The model as the API names it.
    public let modelID: String
    /// Used when a request gives no `max_tokens`.
    public let defaultMaxTokens: Int
    private let engine: EngineBox
    private let sha256: String?
    private let created: Int
    private let logger: Logger

    /// Holds the engine; every use of it happens under `lock`, so it is never used by two threads.
    private final class EngineBox: @unchecked Sendable {
        let lock = NSLock()
        let engine: LlamaEngine
        init(_ engine: LlamaEngine) { self.engine = engine }
    }

    public init(engine: LlamaEngine, modelID: String, sha256: String?, defaultMaxTokens: Int = 256, logger: Logger) {
        self.engine = EngineBox(engine)
        self.modelID = modelID
        self.sha256 = sha256
        self.defaultMaxTokens = defaultMaxTokens
        self.created = Int(Date().timeIntervalSince1970)
        self.logger = logger
    }

    /// Answers one HTTP request.
    public func handle(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        switch (request.method, request.path) {
        case ("GET", "/v1/models"):
            sendJSON(writer, OpenAI.ModelList(data: [modelObject()]))
        case ("GET", "/v1/models/\(modelID)"):
            sendJSON(writer, modelObject())
        case ("GET", "/health"):
            writer.sendJSON(Array(#"{"status":"ok"}"#.utf8))
        case ("POST", "/v1/chat/completions"):
            chatCompletion(request, writer)
        case ("POST", "/v1/completions"):
            completion(request, writer)
        case (_, "/v1/models"), (_, "/v1/chat/completions"), (_, "/v1/completions"), (_, "/health"):
            writer.sendJSONError(status: 405, message: "method \(request.method) not allowed on \(request.path)")
        default:
            writer.sendJSONError(status: 404, message: "no route \(request.path)", type: "not_found_error")
        }
    }

    private func modelObject() -> OpenAI.Model {
        let m = engine.engine.metadata  // immutable after init: no lock needed
        return OpenAI.Model(id: modelID, created: created, meta: OpenAI.Meta(
            architecture: m.architecture, parameter_count: m.parameterCount, vocab_size: m.vocabularySize,
            context_length: m.contextLength, trained_context_length: m.trainedContextLength,
            file_size: m.fileSize, sha256: sha256))
    }

    /// What is wrong with a request's sampling settings, by the rules the command line applies.
    static func invalidParameters(maxTokens: Int?, temperature: Float?, topP: Float?) -> String? {
        if let maxTokens, maxTokens < 0 { return "max_tokens must not be negative" }
        if let temperature, !(temperature.isFinite && temperature >= 0) { return "temperature must be a number of at least 0" }
        if let topP, !(topP > 0 && topP <= 1) { return "top_p must be in (0, 1]" }
        return nil
    }

    private func parameters(maxTokens: Int?, temperature: Float?, topP: Float?, seed: Int64?) -> GenerationParameters {
        // OpenAI's default temperature is 1; 0 means the most likely token every time.
        let temperature = temperature ?? 1
        let sampling: Sampling = temperature <= 0
            ? .greedy
            : .temperature(temperature, topP: topP ?? 1, seed: UInt32(truncatingIfNeeded: seed ?? Int64.random(in: 0...Int64(UInt32.max))))
        return GenerationParameters(maxTokens: max(1, maxTokens ?? defaultMaxTokens), sampling: sampling)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest, _ writer: HTTPResponseWriter) -> T? {
        do {
            return try JSONDecoder().decode(type, from: Data(request.body))
        } catch {
            writer.sendJSONError(status: 400, message: "invalid request body: \(error)")
            return nil
        }
    }

    private func chatCompletion(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        guard let body = decode(OpenAI.ChatCompletionRequest.self, request, writer) else { return }
        guard !body.messages.isEmpty else {
            writer.sendJSONError(status: 400, message: "messages must not be empty")
            return
        }
        if let problem = Self.invalidParameters(
            maxTokens: body.max_completion_tokens ?? body.max_tokens, temperature: body.temperature, topP: body.top_p) {
            writer.sendJSONError(status: 400, message: problem)
            return
        }
        let messages = body.messages.map { ChatMessage(role: $0.role, content: $0.content.text) }
        let parameters = parameters(maxTokens: body.max_completion_tokens ?? body.max_tokens,
                                    temperature: body.temperature, topP: body.top_p, seed: body.seed)
        let id = "chatcmpl-" + UUID().uuidString.lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let stream = body.stream ?? false

        engine.lock.withLock {
            let prompt: String
            do throws(LlamaError) {
                prompt = try engine.engine.chatPrompt(messages)
            } catch {
                writer.sendJSONError(status: 400, message: error.description)
                return
            }
            if stream {
                writer.startEventStream()
                let chunk = { (delta: OpenAI.Delta, finish: String?) -> Bool in
                    let object = OpenAI.ChatCompletionChunk(id: id, created: created, model: self.modelID, choices: [
                        OpenAI.ChatChunkChoice(index: 0, delta: delta, finish_reason: finish),
                    ])
                    return writer.sendEvent(Self.encode(object))
                }
                _ = chunk(OpenAI.Delta(role: "assistant", content: ""), nil)
                do throws(LlamaError) {
                    let result = try engine.engine.generate(prompt: prompt, parameters: parameters) { text in
                        chunk(OpenAI.Delta(content: text), nil)
                    }
                    _ = chunk(OpenAI.Delta(), Self.finishReason(result.finishReason))
                    logResult(result, route: "chat stream")
                } catch {
                    Self.sendErrorEvent(writer, error)
                }
                writer.sendEvent(Array("[DONE]".utf8))
            } else {
                do throws(LlamaError) {
                    let result = try engine.engine.generate(prompt: prompt, parameters: parameters)
                    logResult(result, route: "chat")
                    sendJSON(writer, OpenAI.ChatCompletion(
                        id: id, created: created, model: modelID,
                        choices: [OpenAI.ChatChoice(index: 0, message: OpenAI.ResponseMessage(role: "assistant", content: result.text),
                                                    finish_reason: Self.finishReason(result.finishReason))],
                        usage: Self.usage(result)))
                } catch {
                    writer.sendJSONError(status: error.kind == .promptTooLong ? 400 : 500, message: error.description,
                                         type: error.kind == .promptTooLong ? "invalid_request_error" : "server_error")
                }
            }
        }
    }

    /// An error in the middle of a stream: one event with an OpenAI-style error object.
    private static func sendErrorEvent(_ writer: HTTPResponseWriter, _ error: LlamaError) {
        let object: [String: Any] = ["error": ["message": error.description, "type": "server_error"]]
        writer.sendEvent((try? JSONSerialization.data(withJSONObject: object)).map { Array($0) } ?? [])
    }

    private func completion(_ request: HTTPRequest, _ writer: HTTPResponseWriter) {
        guard let body = decode(OpenAI.CompletionRequest.self, request, writer) else { return }
        if let problem = Self.invalidParameters(maxTokens: body.max_tokens, temperature: body.temperature, topP: body.top_p) {
            writer.sendJSONError(status: 400, message: problem)
            return
        }
        let parameters = parameters(maxTokens: body.max_tokens, temperature: body.temperature, topP: body.top_p, seed: body.seed)
        let id = "cmpl-" + UUID().uuidString.lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let stream = body.stream ?? false

        engine.lock.withLock {
            if stream {
                writer.startEventStream()
                let chunk = { (text: String, finish: String?) -> Bool in
                    let object = OpenAI.Completion(id: id, created: created, model: self.modelID,
                                                   choices: [OpenAI.TextChoice(index: 0, text: text, finish_reason: finish)])
                    return writer.sendEvent(Self.encode(object))
                }
                do throws(LlamaError) {
                    let result = try engine.engine.generate(prompt: body.prompt.text, parameters: parameters) { chunk($0, nil) }
                    _ = chunk("", Self.finishReason(result.finishReason))
                    logResult(result, route: "completion stream")
                } catch {
                    Self.sendErrorEvent(writer, error)
                }
                writer.sendEvent(Array("[DONE]".utf8))
            } else {
                do throws(LlamaError) {
                    let result = try engine.engine.generate(prompt: body.prompt.text, parameters: parameters)
                    logResult(result, route: "completion")
                    sendJSON(writer, OpenAI.Completion(
                        id: id, created: created, model: modelID,
                        choices: [OpenAI.TextChoice(index: 0, text: result.text, finish_reason: Self.finishReason(result.finishReason))],
                        usage: Self.usage(result)))
                } catch {
                    writer.sendJSONError(status: error.kind == .promptTooLong ? 400 : 500, message: error.description,
                                         type: error.kind == .promptTooLong ? "invalid_request_error" : "server_error")
                }
            }
        }
    }

    private func logResult(_ result: GenerationResult, route: String) {
        logger.info("generated", metadata: [
            "route": "\(route)", "prompt_tokens": "\(result.promptTokens)",
            "completion_tokens": "\(result.completionTokens)",
            "tokens_per_second": "\(String(format: "%.1f", result.tokensPerSecond))",
        ])
    }

    private static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .length: "length"
        case .stop, .cancelled: "stop"
        }
    }

    private static func usage(_ result: GenerationResult) -> OpenAI.Usage {
        OpenAI.Usage(prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens,
                     total_tokens: result.promptTokens + result.completionTokens)
    }

    private func sendJSON(_ writer: HTTPResponseWriter, _ value: some Encodable) {
        writer.sendJSON(Self.encode(value))
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { Array($0) } ?? Array("{}".utf8)
    }
}
