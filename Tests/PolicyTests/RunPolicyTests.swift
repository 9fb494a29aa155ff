import Flows
import Foundation
import PacketParsing
import Testing
@testable import Policy

/// The policies of `run` and `infer`, as rule sets of the one engine.
@Suite struct RunPolicyTests {
    let program = ProcessFacts(exe: "/usr/bin/python3.11", cmdline: "python3 tool.py", comm: "python3")

    @Test func everyRunPolicyIsARuleSetTheEngineLoads() throws {
        for name in RunPolicy.names {
            let text = try #require(RunPolicy.text(name))
            #expect(throws: Never.self) { try RuleSet.parse(text, file: name) }
            #expect(RunPolicy.engine(name) != nil)
        }
        #expect(RunPolicy.engine("no-such-role") == nil)
        // Each built-in policy is a file of rules/run/, and each file there is a policy.
        let files = DefaultRulePack.files.map(\.name).filter { $0.hasPrefix("run/") }.sorted()
        #expect(files == RunPolicy.names.map { "run/\($0).yaml" }.sorted())
        // The pack itself holds none of them.
        #expect(try DefaultRulePack.ruleSet().rules.allSatisfy { !($0.name ?? "").hasPrefix(RunPolicy.rulePrefix) })
    }

    @Test func loopbackOnlyAllowsLoopbackAndAlertsOnEverythingElse() throws {
        let engine = try #require(RunPolicy.engine("loopback-only"))
        let local = engine.evaluate(flow(program, to: "127.0.0.1", port: 8080))
        #expect(local.verdict == .allowed)
        #expect(local.rule == "run/loopback-only")
        for address in ["192.168.1.9", "198.18.51.2", "fe80::1"] {
            let out = engine.evaluate(flow(program, to: address))
            #expect(out.verdict == .alert, "\(address)")
            #expect(out.rule == "run/loopback-only/outside")
        }
        // Traffic no process accounts for is judged too.
        #expect(engine.evaluate(flow(nil, to: "198.18.51.2")).verdict == .alert)
    }

    @Test func theChatbotUIPolicyAllowsTheLANAsTheRolesDefaultDoes() throws {
        let engine = try #require(RunPolicy.engine("chatbot-ui"))
        #expect(engine.evaluate(flow(program, to: "192.168.1.9")).verdict == .allowed)
        #expect(engine.evaluate(flow(program, to: "198.18.51.2")).verdict == .alert)
    }

    @Test func theStoredRuleNamesThePolicyThatDecided() {
        #expect(RunPolicy.name(ofRule: "run/loopback-only") == "loopback-only")
        #expect(RunPolicy.name(ofRule: "run/chatbot-ui/outside") == "chatbot-ui")
        #expect(RunPolicy.name(ofRule: "chatbot-ui/default") == nil)
        #expect(RunPolicy.name(ofRule: "run/unknown") == nil)
        #expect(RunPolicy.name(ofRule: nil) == nil)
    }
}
