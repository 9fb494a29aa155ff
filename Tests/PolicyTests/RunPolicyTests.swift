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

    @Test func aBaselineWrittenToAFileReadsBackWhole() throws {
        var baseline = Baseline()
        baseline.record(flow(program, to: "198.18.0.7", host: "api.example"))
        baseline.record(flow(program, to: "198.18.0.8"))
        let directory = NSTemporaryDirectory() + "tt-baseline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/baseline.tsv"
        try Data(baseline.text(time: { String($0) }).utf8).write(to: URL(fileURLWithPath: path))
        let read = try Baseline.load(path: path, checkTrust: false, time: { Int64($0) })
        #expect(read == baseline)
        // Outside the baseline: an alert by the learning rule; inside: the rules' own decision.
        let fresh = read.check(flow(program, to: "198.18.0.9"), Decision(verdict: .allowed))
        #expect(fresh.verdict == .alert && fresh.rule == Baseline.ruleID)
        #expect(read.check(flow(program, to: "198.18.0.7", host: "api.example"), Decision(verdict: .allowed)).verdict == .allowed)
    }
}
