import Foundation
import LlamaRunner

/// The report of one generation: for people on standard error, or as JSON for programs.
struct Summary {
    var result: GenerationResult
    var metadata: ModelMetadata
    var sha256: String?
    var sampling: Sampling
    var threads: Int
    var loadSeconds: Double

    /// The JSON object; keys are part of what `telltale infer` reads.
    func object(includingText: Bool) -> [String: Any] {
        var object: [String: Any] = [
            "prompt_tokens": result.promptTokens,
            "completion_tokens": result.completionTokens,
            "finish_reason": result.finishReason.rawValue,
            "load_seconds": loadSeconds,
            "prompt_seconds": result.promptSeconds,
            "generation_seconds": result.generationSeconds,
            // Rates to a hundredth: 17 digits of a measurement are noise, not precision.
            "tokens_per_second": (result.tokensPerSecond * 100).rounded() / 100,
            "prompt_tokens_per_second": (result.promptTokensPerSecond * 100).rounded() / 100,
            "threads": threads,
            "sampling": Self.samplingObject(sampling),
            "model": Self.modelObject(metadata, sha256: sha256, loadSeconds: nil),
            "runtime": ["exe": CommandLine.arguments.first ?? "telltale-llama", "pid": Int(ProcessInfo.processInfo.processIdentifier)],
        ]
        if includingText { object["completion"] = result.text }
        return object
    }

    static func samplingObject(_ sampling: Sampling) -> [String: Any] {
        switch sampling {
        case .greedy:
            return ["mode": "greedy"]
        case .temperature(let temperature, let topP, let seed):
            return ["mode": "temperature", "temperature": Double(temperature), "top_p": Double(topP), "seed": Int(seed)]
        }
    }

    static func modelObject(_ metadata: ModelMetadata, sha256: String?, loadSeconds: Double?) -> [String: Any] {
        var object: [String: Any] = [
            "path": metadata.path,
            "architecture": metadata.architecture,
            "description": metadata.description,
            "parameter_count": metadata.parameterCount,
            "vocab_size": metadata.vocabularySize,
            "trained_context_length": metadata.trainedContextLength,
            "context_length": metadata.contextLength,
            "embedding_length": metadata.embeddingLength,
            "layer_count": metadata.layerCount,
            "file_size": metadata.fileSize,
            "gguf_version": Int(metadata.ggufVersion),
            "tensor_count": metadata.tensorCount,
            "has_chat_template": metadata.hasChatTemplate,
        ]
        object["name"] = metadata.name
        object["sha256"] = sha256
        if let loadSeconds { object["load_seconds"] = loadSeconds }
        return object
    }

    func humanText() -> String {
        let m = metadata
        var lines = [
            String(format: "%d prompt tokens in %.3f s (%.1f tokens/s), %d tokens generated in %.3f s: %.1f tokens/s (%@)",
                   result.promptTokens, result.promptSeconds, result.promptTokensPerSecond,
                   result.completionTokens, result.generationSeconds, result.tokensPerSecond, result.finishReason.rawValue),
            "model \(m.path): \(m.name ?? "unnamed"), \(m.architecture), \(m.parameterCount) parameters, vocab \(m.vocabularySize), "
                + "context \(m.contextLength) of \(m.trainedContextLength) trained, \(m.fileSize) bytes",
        ]
        if let sha256 { lines.append("sha256 \(sha256)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func encode(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
