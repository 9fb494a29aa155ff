import Foundation
import LlamaRunner
import Logging
import Testing
import TestSupport

@Suite("Generation on the generated tiny model")
struct LlamaEngineTests {
    let logger = Logger(label: "test")

    func engine() throws -> LlamaEngine {
        try LlamaEngine(modelPath: try TinyModel.path(), options: .init(threads: 2), logger: logger)
    }

    @Test func greedyCompletionIsTheSameEveryTime() throws {
        let first = try engine()
        let a = try first.generate(prompt: "The packet", parameters: .init(maxTokens: 24))
        let b = try first.generate(prompt: "The packet", parameters: .init(maxTokens: 24))
        let c = try engine().generate(prompt: "The packet", parameters: .init(maxTokens: 24))
        #expect(!a.text.isEmpty)
        #expect(a.completionTokens == 24)
        #expect(a.finishReason == .length)
        #expect(a.text == b.text)
        #expect(a.text == c.text)
    }

    @Test func greedyCompletionDependsOnThePrompt() throws {
        let engine = try engine()
        let a = try engine.generate(prompt: "The packet", parameters: .init(maxTokens: 16))
        let b = try engine.generate(prompt: "A flow goes to the internet", parameters: .init(maxTokens: 16))
        #expect(a.text != b.text)
    }

    @Test func temperatureSamplingWithASeedIsReproducible() throws {
        let engine = try engine()
        let seeded = GenerationParameters(maxTokens: 24, sampling: .temperature(0.9, topP: 0.95, seed: 1234))
        let a = try engine.generate(prompt: "The packet", parameters: seeded)
        let b = try engine.generate(prompt: "The packet", parameters: seeded)
        let otherSeed = try engine.generate(prompt: "The packet", parameters: .init(maxTokens: 24, sampling: .temperature(0.9, topP: 0.95, seed: 99)))
        let greedy = try engine.generate(prompt: "The packet", parameters: .init(maxTokens: 24))
        #expect(a.text == b.text)
        #expect(a.text != otherSeed.text)
        #expect(a.text != greedy.text)
    }

    @Test func completionsAreReadableWordsWithoutReplacementCharacters() throws {
        let engine = try engine()
        for prompt in ["The quick brown fox", "Where did the packet go?", "café ☕ naïve", "\u{1F600}"] {
            for sampling: Sampling in [.greedy, .temperature(1.2, topP: 1, seed: 5), .temperature(0.8, topP: 0.9, seed: 77)] {
                let text = try engine.generate(prompt: prompt, parameters: .init(maxTokens: 48, sampling: sampling)).text
                #expect(!text.unicodeScalars.contains("\u{FFFD}"), "\(prompt): \(text.debugDescription)")
                #expect(text.unicodeScalars.allSatisfy { $0.isASCII && ($0.value >= 0x20 || $0 == "\n") }, "\(text.debugDescription)")
                // Words of the model's own text, each after a space.
                let words = text.split(separator: " ").filter { $0.contains(where: \.isLetter) }
                #expect(words.count >= 8, "\(text.debugDescription)")
            }
        }
    }

    @Test func streamedPiecesMakeUpTheCompletion() throws {
        let engine = try engine()
        var pieces: [String] = []
        let result = try engine.generate(prompt: "The report", parameters: .init(maxTokens: 20)) { piece in
            pieces.append(piece)
            return true
        }
        #expect(pieces.count > 1)
        #expect(pieces.joined() == result.text)
    }

    @Test func theTextCallbackCanStopAGeneration() throws {
        let engine = try engine()
        var calls = 0
        let result = try engine.generate(prompt: "The report", parameters: .init(maxTokens: 50)) { _ in
            calls += 1
            return calls < 3
        }
        #expect(result.finishReason == .cancelled)
        #expect(result.completionTokens < 50)
    }

    @Test func tokenizingThenDetokenizingGivesTheTextBack() throws {
        let engine = try engine()
        let text = "the packet goes to the loopback interface, port 42"
        let tokens = try engine.tokenize(text, addSpecial: false)
        #expect(tokens.count < text.utf8.count)  // the trained merges join bytes
        #expect(engine.detokenize(tokens) == text)
    }

    @Test func metadataDescribesTheFile() throws {
        let engine = try engine()
        let m = engine.metadata
        let header = engine.modelFile.header
        #expect(m.architecture == header.strings["general.architecture"])
        #expect(m.name == header.strings["general.name"])
        #expect(Int64(m.trainedContextLength) == header.integers["llama.context_length"])
        #expect(Int64(m.layerCount) == header.integers["llama.block_count"])
        #expect(Int64(m.embeddingLength) == header.integers["llama.embedding_length"])
        #expect(m.vocabularySize > 256)
        #expect(m.parameterCount > UInt64(m.vocabularySize * m.embeddingLength))
        #expect(m.fileSize == (try FileManager.default.attributesOfItem(atPath: m.path)[.size] as? UInt64))
        #expect(m.hasChatTemplate)
    }

    @Test func chatPromptUsesTheModelsTemplate() throws {
        let engine = try engine()
        let prompt = try engine.chatPrompt([ChatMessage(role: "user", content: "hello there")])
        #expect(prompt.contains("<|im_start|>user\nhello there<|im_end|>"))
        #expect(prompt.hasSuffix("<|im_start|>assistant\n"))
    }

    @Test func aPromptLongerThanTheContextIsRefused() throws {
        let engine = try LlamaEngine(modelPath: try TinyModel.path(), options: .init(contextLength: 32, threads: 1), logger: logger)
        let long = String(repeating: "packet flow socket ", count: engine.metadata.contextLength)
        #expect(throws: LlamaError.self) { try engine.generate(prompt: long, parameters: .init(maxTokens: 4)) }
        do {
            _ = try engine.generate(prompt: long, parameters: .init(maxTokens: 4))
        } catch {
            #expect(error.kind == .promptTooLong)
        }
    }

    @Test func theFileHashMatchesSha256sum() throws {
        let path = try TinyModel.path()
        let output = try TestProcess.run(["/usr/bin/sha256sum", path]).output
        #expect(try ModelFile.sha256(path: path) == output.split(separator: " ").first.map(String.init))
    }
}
