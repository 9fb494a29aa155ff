import Foundation
import Testing
import TestSupport

@Suite("The telltale-llama command")
struct CommandLineTests {
    /// Runs the built telltale-llama to its end.
    static func llama(_ arguments: [String]) throws -> TestProcess.Outcome {
        try TestProcess.run([try BuiltExecutable.require("telltale-llama")] + arguments)
    }

    @Test func greedyGenerationPrintsTheSameCompletionTwice() throws {
        let model = try TinyModel.path()
        let arguments = ["--model", model, "--prompt", "The packet", "--max-tokens", "20", "--threads", "2", "--quiet"]
        let a = try Self.llama(arguments)
        let b = try Self.llama(arguments)
        #expect(a.status == 0)
        #expect(!a.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(a.output == b.output)
    }

    @Test func seededTemperatureSamplingIsReproducibleAcrossRuns() throws {
        let model = try TinyModel.path()
        let arguments = ["--model", model, "--prompt", "The packet", "--max-tokens", "20", "--temperature", "0.8", "--seed", "42", "--quiet"]
        let a = try Self.llama(arguments)
        let b = try Self.llama(arguments)
        let other = try Self.llama(["--model", model, "--prompt", "The packet", "--max-tokens", "20", "--temperature", "0.8", "--seed", "43", "--quiet"])
        #expect(a.status == 0)
        #expect(a.output == b.output)
        #expect(a.output != other.output)
    }

    @Test func theJSONSummaryHasTheCompletionTimingsAndMetadata() throws {
        let model = try TinyModel.path()
        let text = try Self.llama(["--model", model, "--prompt", "The packet", "--max-tokens", "12", "--quiet"])
        let json = try Self.llama(["--model", model, "--prompt", "The packet", "--max-tokens", "12", "--json"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["completion"] as? String == String(text.output.dropLast()))  // text mode ends with a newline
        #expect(object["completion_tokens"] as? Int == 12)
        #expect((object["tokens_per_second"] as? Double ?? 0) > 0)
        let modelObject = try #require(object["model"] as? [String: Any])
        #expect(modelObject["architecture"] as? String == "llama")
        #expect((modelObject["sha256"] as? String)?.count == 64)
        #expect((modelObject["parameter_count"] as? Int ?? 0) > 0)
        #expect((modelObject["vocab_size"] as? Int ?? 0) > 256)
    }

    /// Runs the command on a file and expects a clean failure with a message naming the problem.
    func expectCleanFailure(_ path: String, mentions phrase: String) throws {
        let outcome = try Self.llama(["--model", path, "--prompt", "hello", "--max-tokens", "4"])
        #expect(outcome.reason == .exit)  // not killed by a signal
        #expect(outcome.status == 1)
        #expect(outcome.error.contains("telltale-llama: error:"))
        #expect(outcome.error.contains(phrase), "stderr was: \(outcome.error)")
        #expect(outcome.output.isEmpty)
    }

    func scratchCopy(_ transform: (Data) -> Data, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telltale-llama-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = try Data(contentsOf: URL(fileURLWithPath: try TinyModel.path()))
        let url = directory.appendingPathComponent("model.gguf")
        try transform(original).write(to: url)
        try body(url.path)
    }

    @Test(arguments: ["100000", "0", "1025"])
    func aThreadCountOutsideOneTo1024IsAUsageErrorNotACrash(_ threads: String) throws {
        let outcome = try Self.llama(["--model", try TinyModel.path(), "-t", threads, "--prompt", "hello", "--max-tokens", "1"])
        #expect(outcome.reason == .exit)  // not killed by a signal
        #expect(outcome.status == 64)
        #expect(outcome.error.contains("--threads must be from 1 to 1024"), "stderr was: \(outcome.error)")
    }

    @Test func aMissingModelFailsWithAClearError() throws {
        try expectCleanFailure("/nonexistent/telltale/tiny.gguf", mentions: "no such file")
    }

    @Test func aNonGGUFFileFailsWithAClearError() throws {
        try scratchCopy({ _ in Data("{\"not\": \"a model\"}\n".utf8) }) { try expectCleanFailure($0, mentions: "not a GGUF model") }
    }

    @Test func aTruncatedModelFailsWithAClearError() throws {
        try scratchCopy({ $0.prefix($0.count / 2) }) { try expectCleanFailure($0, mentions: "truncated") }
    }

    @Test func aCorruptedModelFailsWithAClearError() throws {
        try scratchCopy({ original in
            var damaged = original
            for i in 8..<24 { damaged[i] = 0xFF }
            return damaged
        }) { try expectCleanFailure($0, mentions: "damaged GGUF header") }
    }
}
