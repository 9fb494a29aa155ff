import Foundation
import TestSupport
import PacketParsing
@testable import Policy

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
