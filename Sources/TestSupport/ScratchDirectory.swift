import Foundation

/// Temporary directories for tests; the caller removes them.
public enum ScratchDirectory {
    /// A new, empty directory under the temporary directory, named after `tag`.
    public static func make(_ tag: String) throws -> String {
        let path = NSTemporaryDirectory() + "telltale-\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
