import Foundation
import PacketParsing
@testable import Policy

/// A temporary rules directory the test writes its files into; removed by `remove()`.
struct RulesDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "tt-rules-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }

    /// A directory made elsewhere, to write files into.
    init(existing path: String) {
        self.path = path
    }

    func write(_ name: String, _ text: String, mode: Int = 0o644) {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        chmod(file, mode_t(mode))
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository's default rules pack.
let defaultPack: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path + "/rules"
}()

func flow(_ process: ProcessFacts?, to address: String, port: UInt16 = 443, proto: UInt8 = 6, host: String? = nil) -> FlowFacts {
    FlowFacts(process: process, remoteAddress: IPAddress(address) ?? IPAddress(v4: 0), remotePort: port, ipProtocol: proto, hostname: host)
}

func problems(_ text: String) -> [RulesProblem] {
    do {
        _ = try RuleSet.parse(text, file: "test.yaml")
        return []
    } catch {
        return error.problems
    }
}

/// Rules read from a directory (or one file) and their lists, handed to the engine as text the way
/// the daemon's loader hands them, without its trust checks: those are the loader's, tested with it
/// in MonitorTests.
extension RuleEngine {
    convenience init(fixtureDirectory path: String) throws(RulesError) {
        func read(_ file: String) -> String? { try? String(contentsOfFile: file, encoding: .utf8) }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let files = isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { path + "/" + $0 }
            : [path]
        let texts = files.map { (file: $0, text: read($0) ?? "") }
        let rules = try RuleSet.assemble(texts) { file, name in
            let full = name.hasPrefix("/") ? name : (file as NSString).deletingLastPathComponent + "/" + name
            guard let text = read(full) else { return .failure(RulesProblem(file: full, line: nil, message: "cannot read")) }
            return .success((full, text))
        }
        self.init(rules: rules, path: path)
    }
}
