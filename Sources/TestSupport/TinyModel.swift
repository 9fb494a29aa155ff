import Foundation

/// The project's generated test model, written by scripts/make-tiny-model.py when missing.
public enum TinyModel {
    /// The model's path, generating the file first if it is not there.
    public static func path() throws -> String {
        try generated.get()
    }

    private static let generated: Result<String, TestProcess.Failure> = {
        let model = BuiltExecutable.packageRoot.appendingPathComponent("models/tiny.gguf").path
        let script = BuiltExecutable.packageRoot.appendingPathComponent("scripts/make-tiny-model.py").path
        // A model written by an older generator is written again.
        if let made = modified(model), let generator = modified(script), made >= generator { return .success(model) }
        let made: TestProcess.Outcome
        do {
            made = try TestProcess.runCombined(["python3", script, "--output", model])
        } catch {
            return .failure(TestProcess.Failure("cannot run scripts/make-tiny-model.py: \(error)"))
        }
        guard made.status == 0, FileManager.default.fileExists(atPath: model) else {
            return .failure(TestProcess.Failure("scripts/make-tiny-model.py failed (run scripts/setup.sh for gguf and numpy): \(made.output)"))
        }
        return .success(model)
    }()

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
