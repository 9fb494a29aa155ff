import Flows
import Foundation
import PacketParsing
import Testing
@testable import Policy

/// The pack built into the executable is the repository's `rules/`, and decides as it does.
@Suite struct DefaultRulePackTests {
    @Test func theBuiltInPackHoldsEveryFileOfRulesVerbatim() throws {
        let manager = FileManager.default
        var onDisk: [String: String] = [:]
        for name in try manager.contentsOfDirectory(atPath: defaultPack) where name.hasSuffix(".yaml") {
            onDisk[name] = try String(contentsOfFile: defaultPack + "/" + name, encoding: .utf8)
        }
        for name in try manager.contentsOfDirectory(atPath: defaultPack + "/lists") {
            onDisk["lists/" + name] = try String(contentsOfFile: defaultPack + "/lists/" + name, encoding: .utf8)
        }
        // The run policies ride along, under run/.
        for name in try manager.contentsOfDirectory(atPath: defaultPack + "/run") where name.hasSuffix(".yaml") {
            onDisk["run/" + name] = try String(contentsOfFile: defaultPack + "/run/" + name, encoding: .utf8)
        }
        let builtIn = Dictionary(DefaultRulePack.files.map { ($0.name, $0.text) }, uniquingKeysWith: { a, _ in a })
        #expect(onDisk.count >= 4)
        #expect(builtIn == onDisk)
    }

    @Test func theBuiltInPackDecidesAsTheDirectoryDoes() throws {
        let builtIn = RuleEngine(rules: try DefaultRulePack.ruleSet())
        let directory = try RuleEngine(fixtureDirectory: defaultPack)
        #expect(builtIn.ruleSet.rules.count == directory.ruleSet.rules.count)
        #expect(builtIn.ruleSet.roles.map(\.name) == directory.ruleSet.roles.map(\.name))
        let programs = [
            ProcessFacts(exe: "/usr/local/bin/llama-server", cmdline: "llama-server -m /m.gguf", comm: "llama-server"),
            ProcessFacts(exe: "/usr/bin/python3.11", cmdline: "/usr/bin/python3 -m uvicorn open_webui.main:app", comm: "python3", program: "open_webui", programKind: "module"),
            ProcessFacts(exe: "/usr/bin/curl", cmdline: "curl http://example.org/", comm: "curl"),
        ]
        var alerts = 0
        for program in programs {
            for (address, host) in [("127.0.0.1", nil), ("192.168.1.5", nil), ("198.18.0.9", "example.org"), ("198.18.0.10", "api.segment.io")] {
                let a = builtIn.evaluate(flow(program, to: address, host: host))
                let b = directory.evaluate(flow(program, to: address, host: host))
                // A role's allowance is named by its place: built-in:10-roles.yaml:44 for 10-roles.yaml:44.
                #expect(a.verdict == b.verdict && a.rule?.replacingOccurrences(of: "built-in:", with: "") == b.rule && a.role == b.role && a.tags == b.tags, "\(program.exe ?? "") → \(address): \(a) vs \(b)")
                if a.verdict == .alert { alerts += 1 }
            }
        }
        #expect(alerts >= 3)  // the runtime and the UI reaching the internet, and telemetry
    }
}
