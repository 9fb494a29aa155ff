public import Foundation

/// A temporary rules directory the test writes its files into; removed by `remove()`.
public struct RulesDirectory {
    public let path: String

    public init() {
        path = NSTemporaryDirectory() + "tt-rules-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }

    /// A directory made elsewhere, to write files into.
    public init(existing path: String) {
        self.path = path
    }

    public func write(_ name: String, _ text: String, mode: Int = 0o644) {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        chmod(file, mode_t(mode))
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
