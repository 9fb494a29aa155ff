import Foundation
import LlamaRunner
import Logging
import Testing
import TestSupport

@Suite("Damaged and missing model files")
struct ModelFileErrorTests {
    let logger = Logger(label: "test")

    /// Loads `path` and returns the error, or nil if it loaded.
    func loadError(_ path: String) -> LlamaError? {
        do {
            _ = try LlamaEngine(modelPath: path, options: .init(threads: 1), logger: logger)
            return nil
        } catch {
            return error
        }
    }

    func withCopy(_ body: (URL, Data) throws -> Void) throws {
        let directory = URL(fileURLWithPath: try ScratchDirectory.make("llama"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = try Data(contentsOf: URL(fileURLWithPath: try TinyModel.path()))
        try body(directory.appendingPathComponent("model.gguf"), original)
    }

    @Test func aMissingFileSaysSo() throws {
        let error = loadError("/nonexistent/telltale/model.gguf")
        #expect(error?.kind == .modelFileMissing)
        #expect(error?.description.contains("/nonexistent/telltale/model.gguf") == true)
        #expect(error?.description.contains("no such file") == true)
    }

    @Test func aFileThatIsNotGGUFSaysSo() throws {
        try withCopy { url, _ in
            try Data("#!/bin/sh\necho this is not a model\n".utf8).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .notGGUF)
            #expect(error?.message.contains("not a GGUF model") == true)
        }
    }

    @Test func anEmptyFileIsNotAModel() throws {
        try withCopy { url, _ in
            try Data().write(to: url)
            #expect(loadError(url.path)?.kind == .notGGUF)
        }
    }

    @Test func aFileCutInItsTensorDataIsTruncated() throws {
        try withCopy { url, original in
            try original.prefix(original.count * 2 / 3).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .truncatedModel)
            #expect(error?.message.contains("\(original.count * 2 / 3) bytes") == true)
        }
    }

    @Test func aFileCutInItsHeaderIsTruncated() throws {
        try withCopy { url, original in
            try original.prefix(200).write(to: url)
            #expect(loadError(url.path)?.kind == .truncatedModel)
        }
    }

    @Test func aFileMissingOnlyItsLastByteIsTruncated() throws {
        try withCopy { url, original in
            try original.dropLast().write(to: url)
            #expect(loadError(url.path)?.kind == .truncatedModel)
        }
    }

    @Test func damagedCountsInTheHeaderAreReported() throws {
        try withCopy { url, original in
            var damaged = original
            for i in 8..<24 { damaged[i] = 0xFF }  // tensor and metadata counts
            try damaged.write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("damaged GGUF header") == true)
        }
    }

    @Test func damagedMetadataIsReported() throws {
        try withCopy { url, original in
            var damaged = original
            // The first key's length field: a huge length cannot be a real key.
            for i in 24..<32 { damaged[i] = 0x7F }
            try damaged.write(to: url)
            #expect(loadError(url.path)?.kind == .corruptedModel)
        }
    }

    @Test func aDamagedTensorTypeIsReported() throws {
        try withCopy { url, original in
            let header = try GGUFHeader.parse(Array(original))
            // The last tensor info ends with its type (4 bytes) and data offset (8 bytes).
            var bytes = Array(original)
            bytes[Self.endOfTensorInfos(bytes, header: header) - 12] = 0xEE
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("unknown type") == true)
        }
    }

    @Test func aDifferentGGUFVersionIsReported() throws {
        try withCopy { url, original in
            var damaged = original
            damaged[4] = 9
            try damaged.write(to: url)
            #expect(loadError(url.path)?.kind == .unsupportedVersion)
        }
    }

    @Test func aFIFOAsTheModelIsRefusedInsteadOfBlocking() throws {
        let directory = try ScratchDirectory.make("model-fifo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.gguf"
        #expect(mkfifo(path, 0o600) == 0)
        let error = loadError(path)
        #expect(error?.kind == .modelFileUnreadable)
        #expect(error?.message.contains("FIFO") == true, "\(String(describing: error))")
    }

    /// The offset of the value of metadata `key` (after its type field), and its type.
    static func metadataValue(_ bytes: [UInt8], key: String) -> (offset: Int, type: UInt32)? {
        let needle = Array(key.utf8)
        guard needle.count <= bytes.count else { return nil }
        for start in 0...(bytes.count - needle.count) where Array(bytes[start..<(start + needle.count)]) == needle {
            let typeAt = start + needle.count
            let type = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[typeAt + $1]) << (8 * UInt32($1)) }
            return (typeAt + 4, type)
        }
        return nil
    }

    @Test func aModelWithNoLayersIsRefusedBeforeLlamaCppSeesIt() throws {
        try withCopy { url, original in
            var bytes = Array(original)
            let value = try #require(Self.metadataValue(bytes, key: "llama.block_count"))
            #expect(value.type == 4)  // uint32
            for i in 0..<4 { bytes[value.offset + i] = 0 }
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("block_count") == true, "\(String(describing: error))")
        }
    }

    /// llama.cpp asserts `n_layer <= LLAMA_MAX_LAYERS` (512) and aborts the process; the file is
    /// refused before it gets there, through the engine and so through `infer` and the server.
    @Test(arguments: [UInt32(513), UInt32(1) << 31, UInt32.max])
    func aModelWithMoreLayersThanLlamaCppHoldsIsRefusedBeforeLlamaCppSeesIt(_ layers: UInt32) throws {
        try withCopy { url, original in
            var bytes = Array(original)
            let value = try #require(Self.metadataValue(bytes, key: "llama.block_count"))
            #expect(value.type == 4)  // uint32
            for i in 0..<4 { bytes[value.offset + i] = UInt8(truncatingIfNeeded: layers >> (8 * UInt32(i))) }
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("llama.block_count is \(layers), outside 1…512") == true, "\(String(describing: error))")
        }
    }

    @Test(arguments: ["llama.context_length", "llama.embedding_length", "llama.attention.head_count"])
    func aHyperparameterBeyondAnyModelIsRefusedBeforeLlamaCppSeesIt(_ key: String) throws {
        try withCopy { url, original in
            var bytes = Array(original)
            let value = try #require(Self.metadataValue(bytes, key: key))
            #expect(value.type == 4)  // uint32
            for i in 0..<4 { bytes[value.offset + i] = 0xFF }
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("\(key) is 4294967295, outside") == true, "\(String(describing: error))")
        }
    }

    @Test func aRopeBaseThatIsNotANumberIsRefused() throws {
        try withCopy { url, original in
            var bytes = Array(original)
            let value = try #require(Self.metadataValue(bytes, key: "llama.rope.freq_base"))
            #expect(value.type == 6)  // float32
            let nan = Float.nan.bitPattern
            for i in 0..<4 { bytes[value.offset + i] = UInt8(truncatingIfNeeded: nan >> (8 * UInt32(i))) }
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("llama.rope.freq_base is nan, but a hyperparameter must be a finite number") == true,
                    "\(String(describing: error))")
        }
    }

    @Test(arguments: [Float(-1e-5), Float.nan, Float.infinity])
    func aNegativeOrNaNNormEpsilonIsRefusedBeforeLlamaCppSeesIt(_ epsilon: Float) throws {
        try withCopy { url, original in
            var bytes = Array(original)
            let value = try #require(Self.metadataValue(bytes, key: "llama.attention.layer_norm_rms_epsilon"))
            #expect(value.type == 6)  // float32
            for i in 0..<4 { bytes[value.offset + i] = UInt8(truncatingIfNeeded: epsilon.bitPattern >> (8 * UInt32(i))) }
            try Data(bytes).write(to: url)
            let error = loadError(url.path)
            #expect(error?.kind == .corruptedModel)
            #expect(error?.message.contains("layer_norm_rms_epsilon") == true, "\(String(describing: error))")
        }
    }

    @Test(arguments: [0, 100_000, Int.max])
    func aThreadCountOutsideOneToTheMaximumIsRefused(_ threads: Int) throws {
        let model = try TinyModel.path()
        do {
            _ = try LlamaEngine(modelPath: model, options: .init(threads: threads), logger: logger)
            Issue.record("\(threads) threads were accepted")
        } catch {
            #expect(error.kind == .contextFailed)
            #expect(error.message.contains("threads must be from 1 to \(LlamaEngine.Options.maximumThreads)"), "\(error)")
        }
    }

    /// The end of the tensor table: the data offset minus the padding, found by walking back over zeros.
    static func endOfTensorInfos(_ bytes: [UInt8], header: GGUFHeader) -> Int {
        // The last tensor info ends with its 8-byte offset, which is not zero for the last tensor
        // unless it is the only one; padding after it is zeros.
        var end = Int(header.dataOffset)
        let lastOffset = header.tensors.last?.offset ?? 0
        let pattern = (0..<8).map { UInt8(truncatingIfNeeded: lastOffset >> (8 * UInt64($0))) }
        while end >= 8, Array(bytes[(end - 8)..<end]) != pattern { end -= 1 }
        return end
    }
}
