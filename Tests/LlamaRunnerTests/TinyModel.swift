import Foundation

/// The project's generated test model, written by scripts/make-tiny-model.py when missing.
enum TinyModel {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct GenerationFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// The model's path, generating the file first if it is not there.
    static func path() throws -> String {
        try generated.get()
    }

    private static let generated: Result<String, GenerationFailed> = {
        let model = packageRoot.appendingPathComponent("models/tiny.gguf").path
        if FileManager.default.fileExists(atPath: model) { return .success(model) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", packageRoot.appendingPathComponent("scripts/make-tiny-model.py").path, "--output", model]
        do {
            try process.run()
        } catch {
            return .failure(GenerationFailed(description: "cannot run scripts/make-tiny-model.py: \(error)"))
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: model) else {
            return .failure(GenerationFailed(description: "scripts/make-tiny-model.py failed (run scripts/setup.sh for gguf and numpy)"))
        }
        return .success(model)
    }()

    /// A scratch directory removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("telltale-llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
