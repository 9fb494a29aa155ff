public import Foundation

/// The package's own executables as the build left them, for the tests that run them.
public enum BuiltExecutable {
    /// The package's root directory, found from this file's place in it.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The executable `name` built beside the running tests, or nil when it was not built.
    ///
    /// The test runner lives in `.build/<triple>/debug/` with the executables beside it; some runners
    /// start the tests from a helper elsewhere, so the package's own debug build is tried last.
    public static func path(_ name: String) -> String? {
        candidates(name).first { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && FileManager.default.isExecutableFile(atPath: path)
        }
    }

    /// The executable `name`, or an error saying where it was looked for.
    public static func require(_ name: String) throws -> String {
        guard let found = path(name) else {
            throw TestProcess.Failure("\(name) was not built beside the tests (looked in \(candidates(name)))")
        }
        return found
    }

    /// The `telltale` executable; where it should be when it was not built, so running it fails loudly.
    public static var telltale: String {
        path("telltale") ?? packageRoot.appendingPathComponent(".build/debug/telltale").path
    }

    private static func candidates(_ name: String) -> [String] {
        var directories: [URL] = []
        if let first = CommandLine.arguments.first {
            var directory = URL(fileURLWithPath: first).deletingLastPathComponent()
            for _ in 0..<4 {
                directories.append(directory)
                directory.deleteLastPathComponent()
            }
        }
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        directories.append(Bundle.main.bundleURL)
        directories.append(packageRoot.appendingPathComponent(".build/debug"))
        return directories.map { $0.appendingPathComponent(name).path }
    }
}
