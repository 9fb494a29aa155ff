#if canImport(Glibc)
import Glibc
#endif

/// Where the built `telltale` executable is: next to the test bundle in the build directory.
enum TelltaleBinary {
    static let path: String? = {
        var candidates: [String] = []
        // The test runner lives in .build/<triple>/debug/; the executable is built beside it.
        if let argument = CommandLine.arguments.first {
            var directory = String(argument.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
            for _ in 0..<4 {
                candidates.append(directory + "/telltale")
                directory = String(directory.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
            }
        }
        // Or the package root, found from this file's path, and its debug build.
        let file = "\(#filePath)"
        if let range = file.firstRange(of: "/Tests/LiveTests/") {
            candidates.append(String(file[..<range.lowerBound]) + "/.build/debug/telltale")
        }
        return candidates.first { access($0, X_OK) == 0 && !isDirectory($0) }
    }()

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
