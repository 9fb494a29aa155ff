import Flows
import Foundation
import PacketParsing
import Testing
import TestSupport
@testable import Policy

@Suite struct RuleEngineTests {
    let pack: RuleEngine

    init() throws {
        pack = try RuleEngine(fixtureDirectory: defaultPack)
    }

    let llamaServer = ProcessFacts(exe: "/usr/local/bin/llama-server", cmdline: "llama-server -m /models/q.gguf --port 8080", comm: "llama-server")
    let openWebUI = ProcessFacts(
        exe: "/usr/bin/python3.11", cmdline: "/usr/bin/python3 -m uvicorn open_webui.main:app --host 0.0.0.0 --port 8080",
        comm: "python3", program: "open_webui", programKind: "module")

    @Test func llamaServerIsAModelRuntimeAllowedOnLoopback() {
        let d = pack.evaluate(flow(llamaServer, to: "127.0.0.1", port: 40000))
        #expect(d.role == "model-runtime")
        #expect(d.verdict == .allowed)
    }

    @Test func llamaServerReachingTheInternetIsAnAlert() {
        let d = pack.evaluate(flow(llamaServer, to: "198.18.0.10", host: "example.org"))
        #expect(d.verdict == .alert)
        #expect(d.rule == "model-runtime/default")
        #expect(d.severity == .high)
        #expect(d.message?.contains("/usr/local/bin/llama-server") == true)
    }

    @Test func llamaServerReachingTheLANIsAnAlertToo() {
        #expect(pack.evaluate(flow(llamaServer, to: "192.168.1.20")).verdict == .alert)
    }

    @Test func openWebUIIsAChatbotUIByItsProgram() {
        #expect(pack.evaluate(flow(openWebUI, to: "127.0.0.1", port: 11434)).role == "chatbot-ui")
        #expect(pack.evaluate(flow(openWebUI, to: "127.0.0.1", port: 11434)).verdict == .allowed)
        #expect(pack.evaluate(flow(openWebUI, to: "192.168.1.5", port: 11434)).verdict == .allowed)
        let out = pack.evaluate(flow(openWebUI, to: "198.18.0.7"))
        #expect(out.verdict == .alert)
        #expect(out.rule == "chatbot-ui/default")
    }

    @Test func theDefaultPackKnowsTheLocalAIRuntimes() {
        let runtimes: [ProcessFacts] = [
            ProcessFacts(exe: "/usr/local/bin/ollama", cmdline: "ollama serve"),
            // Interpreted runtimes by their program identity (what IdentityReader's namer reads from argv).
            ProcessFacts(exe: "/usr/bin/python3", cmdline: "python3 -m vllm.entrypoints.openai.api_server --model m",
                         program: "vllm.entrypoints.openai.api_server", programKind: "module"),
            ProcessFacts(exe: "/usr/bin/python3", cmdline: "/usr/bin/python3 /usr/local/bin/vllm serve Qwen/Qwen2",
                         program: "vllm", programKind: "console-script"),
            ProcessFacts(exe: "/home/a/koboldcpp-linux-x64", cmdline: "./koboldcpp-linux-x64 --model m.gguf"),
            ProcessFacts(exe: "/usr/bin/local-ai", cmdline: "local-ai run"),
            ProcessFacts(exe: "/opt/gpt4all/bin/chat", cmdline: "/opt/gpt4all/bin/chat"),
            ProcessFacts(exe: "/usr/bin/python3", cmdline: "python server.py --listen", parentCmdline: "bash /home/a/text-generation-webui/start_linux.sh"),
            ProcessFacts(exe: "/usr/bin/sh", cmdline: "sh ./mistral-7b.llamafile --server", program: "mistral-7b.llamafile", programKind: "script"),
            ProcessFacts(exe: "/opt/telltale/bin/telltale-llama", cmdline: "telltale-llama serve"),
            ProcessFacts(exe: "/usr/bin/python3", cmdline: "python3 -m llama_cpp.server --model m.gguf", program: "llama_cpp.server", programKind: "module"),
            ProcessFacts(exe: "/usr/local/bin/custom-runner", cmdline: "custom-runner", openFiles: ["/srv/models/phi.gguf"]),
        ]
        for p in runtimes {
            let role = pack.role(of: p)?.name
            // text-generation-webui's python is known by its parent's command line only through a rule of
            // the user's; the pack looks at the process's own command line.
            if p.cmdline == "python server.py --listen" {
                #expect(role == nil)
            } else {
                #expect(role == "model-runtime", "\(p.cmdline ?? "")")
            }
        }
        let uis: [ProcessFacts] = [
            // Node apps by their package's name (the nearest package.json).
            ProcessFacts(exe: "/usr/bin/node", cmdline: "node /home/a/SillyTavern/server.js", program: "sillytavern", programKind: "node-package"),
            ProcessFacts(exe: "/usr/bin/node", cmdline: "node /app/LibreChat/api/server/index.js", program: "@librechat/backend", programKind: "node-package"),
            ProcessFacts(exe: "/opt/AnythingLLM/anythingllm-desktop", cmdline: "/opt/AnythingLLM/anythingllm-desktop"),
            ProcessFacts(exe: "/opt/Chatbox/chatbox", cmdline: "/opt/Chatbox/chatbox"),
            ProcessFacts(exe: "/usr/bin/node", cmdline: "node /app/lobe-chat/server.js", program: "@lobehub/chat", programKind: "node-package"),
            ProcessFacts(exe: "/usr/bin/node", cmdline: "node /srv/big-agi/.next/standalone/server.js", program: "big-agi", programKind: "node-package"),
        ]
        for p in uis { #expect(pack.role(of: p)?.name == "chatbot-ui", "\(p.cmdline ?? "")") }
        // A word in the command line is not an identity: the same scripts under another package name are nobody.
        for var p in uis where p.exe == "/usr/bin/node" {
            p.program = "server.js"
            p.programKind = "script"
            #expect(pack.role(of: p) == nil, "\(p.cmdline ?? "")")
        }
        #expect(pack.role(of: ProcessFacts(exe: "/usr/bin/curl", cmdline: "curl https://example.org")) == nil)
    }

    @Test func telemetryIsTaggedAndAlertedWhereverItAppears() {
        let curl = ProcessFacts(exe: "/usr/bin/curl", cmdline: "curl https://x")
        let d = pack.evaluate(flow(curl, to: "198.18.0.9", host: "o123.ingest.sentry.io"))
        #expect(d.tags == ["telemetry"])
        #expect(d.verdict == .alert)
        #expect(d.rule == "telemetry" && d.severity == .medium)
        let unattributed = pack.evaluate(flow(nil, to: "198.18.0.9", host: "api.mixpanel.com"))
        #expect(unattributed.tags == ["telemetry"])
        #expect(unattributed.verdict == .alert)
        #expect(pack.evaluate(flow(curl, to: "198.18.0.9", host: "sentry.io.example.org")).tags.isEmpty)
    }

    @Test func aChatbotUIPostingToTelemetryOnTheLANIsStillAnAlert() {
        let d = pack.evaluate(flow(openWebUI, to: "192.168.1.50", host: "us.i.posthog.com"))
        #expect(d.verdict == .alert)
        #expect(d.rule == "chatbot-ui-telemetry")
        #expect(d.tags == ["telemetry"])
    }

    @Test func modelHubsAreExpectedOnlyDuringAPull() {
        let pull = ProcessFacts(exe: "/usr/local/bin/llama-cli", cmdline: "llama-cli --hf-repo ggml-org/tiny -p hi")
        let pulled = pack.evaluate(flow(pull, to: "198.18.0.3", host: "huggingface.co"))
        #expect(pulled.verdict == .allowed)
        #expect(pulled.rule == "model-pull")
        let serve = pack.evaluate(flow(ProcessFacts(exe: "/usr/local/bin/ollama", cmdline: "ollama serve"), to: "198.18.0.3", host: "registry.ollama.ai"))
        #expect(serve.verdict == .alert)
        #expect(serve.rule == "model-download-outside-pull")
        #expect(serve.severity == .low)
        #expect(serve.tags == ["model-hub", "model-download"])
    }

    @Test func unattributedFlowsAreUnratedUnlessARuleForEveryFlowAlerts() throws {
        #expect(pack.evaluate(flow(nil, to: "198.18.0.1")).verdict == .unrated)
        let engine = RuleEngine(rules: try RuleSet.parse("""
            rules:
              - name: no-telnet
                to: {port: 23, proto: tcp}
                action: alert
                severity: critical
            """))
        let d = engine.evaluate(flow(nil, to: "198.18.0.1", port: 23))
        #expect(d.verdict == .alert)
        #expect(d.rule == "no-telnet")
        #expect(d.severity == .critical)
        #expect(engine.evaluate(flow(nil, to: "198.18.0.1", port: 23, proto: 17)).verdict == .unrated)
    }

    @Test func aRuleCanNameTheRoleOfTheProcessAtTheOtherEnd() throws {
        let engine = RuleEngine(rules: try RuleSet.parse("""
            roles:
              - name: ui
                match: [{name: chat}]
                allow: [{scope: loopback, peer_role: model-runtime}]
              - name: model-runtime
                match: [{name: llama-server}]
            """))
        let ui = ProcessFacts(exe: "/usr/bin/chat")
        var toRuntime = flow(ui, to: "127.0.0.1", port: 8080)
        toRuntime.peerRole = "model-runtime"
        #expect(engine.evaluate(toRuntime).verdict == .allowed)
        // Loopback to anything else, or to a server whose process is not known, is not allowed.
        var toOther = flow(ui, to: "127.0.0.1", port: 6379)
        toOther.peerRole = "other"
        #expect(engine.evaluate(toOther).verdict == .alert)
        #expect(engine.evaluate(flow(ui, to: "127.0.0.1", port: 8080)).verdict == .alert)
        #expect(problems("rules:\n  - name: r\n    to: {peer_role: nobody}\n    action: allow\n").count == 1)
    }

    @Test func precedenceIsProgramThenRoleRulesThenAllowThenEveryoneThenFallback() throws {
        let text = """
            roles:
              - name: runner
                match: [{name: run}]
                allow: [{scope: [loopback, lan]}]
            classes:
              - name: hubs
                domains: [.hub.example]
            rules:
              - name: everyone-hubs
                to: {class: hubs}
                action: allow
              - name: runner-lan-9000
                role: runner
                to: {scope: lan, port: 9000}
                action: alert
                severity: low
              - name: this-build-may-reach-lan-9000
                match: {sha256: "\(String(repeating: "ab", count: 32))"}
                to: {cidr: 192.168.0.0/16, port: 9000}
                action: allow
            """
        let engine = RuleEngine(rules: try RuleSet.parse(text))
        let plain = ProcessFacts(exe: "/bin/run")
        let pinned = ProcessFacts(exe: "/bin/run", sha256: String(repeating: "AB", count: 32))
        #expect(engine.evaluate(flow(plain, to: "192.168.1.2", port: 9000)).rule == "runner-lan-9000")
        #expect(engine.evaluate(flow(pinned, to: "192.168.1.2", port: 9000)).rule == "this-build-may-reach-lan-9000")
        #expect(engine.evaluate(flow(plain, to: "192.168.1.2", port: 80)).rule == "rules.yaml:4")
        #expect(engine.evaluate(flow(plain, to: "198.18.0.2", host: "cdn.hub.example")).rule == "everyone-hubs")
        #expect(engine.evaluate(flow(plain, to: "198.18.0.2")).rule == "runner/default")
        let explanation = engine.explain(flow(pinned, to: "192.168.1.2", port: 9000))
        #expect(explanation.matches.map(\.rule) == ["this-build-may-reach-lan-9000", "runner-lan-9000", "rules.yaml:4", "runner/default"])
        #expect(explanation.matches.map(\.tier) == ["program rule", "role rule", "role allows", "role fallback"])
        #expect(explanation.roleMatcher == "rules.yaml:3")
    }

    @Test func rolePriorityDecidesBetweenTwoMatchingRoles() throws {
        let engine = RuleEngine(rules: try RuleSet.parse("""
            roles:
              - name: general
                match: [{name: "*"}]
              - name: special
                priority: 10
                match: [{name: special-*}]
            """))
        #expect(engine.role(of: ProcessFacts(exe: "/bin/special-one"))?.name == "special")
        #expect(engine.role(of: ProcessFacts(exe: "/bin/other"))?.name == "general")
    }

    @Test func aLaterFileExtendsARoleOfAnEarlierOne() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "roles:\n  - name: model-runtime\n    match: [{name: llama-server}]\n    allow: [{scope: loopback}]\n")
        dir.write("50-local.yaml", "roles:\n  - name: model-runtime\n    match: [{exe: /opt/mine/bin/infer}]\n")
        let engine = try RuleEngine(fixtureDirectory: dir.path)
        #expect(engine.evaluate(flow(ProcessFacts(exe: "/opt/mine/bin/infer"), to: "198.18.0.1")).rule == "model-runtime/default")
    }

    @Test func matchersSeeParentsAncestorsUsersUnitsContainersAndPorts() throws {
        let engine = RuleEngine(rules: try RuleSet.parse("""
            roles:
              - name: from-parent
                match: [{parent: {cmdline: 'start_ui\\.sh'}}]
              - name: from-ancestor
                match: [{ancestor: /usr/bin/steward}]
              - name: by-user-and-unit
                match: [{user: ai, unit: "ai-*.service"}]
              - name: contained
                match: [{container: true, name: worker}]
              - name: listener
                match: [{listening_port: 7000-7010}]
            """))
        #expect(engine.role(of: ProcessFacts(exe: "/bin/x", parentCmdline: "bash start_ui.sh"))?.name == "from-parent")
        #expect(engine.role(of: ProcessFacts(exe: "/bin/x", parentExe: "/bin/bash", ancestorExes: ["/usr/bin/steward"]))?.name == "from-ancestor")
        #expect(engine.role(of: ProcessFacts(exe: "/bin/x", user: "ai", unit: "ai-chat.service"))?.name == "by-user-and-unit")
        #expect(engine.role(of: ProcessFacts(exe: "/bin/x", user: "ai", unit: "other.service")) == nil)
        #expect(engine.role(of: ProcessFacts(exe: "/bin/worker", container: "abc123"))?.name == "contained")
        #expect(engine.role(of: ProcessFacts(exe: "/bin/worker")) == nil)
        #expect(engine.role(of: ProcessFacts(exe: "/bin/y", listeningPorts: [7005]))?.name == "listener")
    }

    @Test func rescopedNetworksChangeTheScopeRulesSee() throws {
        let engine = RuleEngine(rules: try RuleSet.parse("""
            roles:
              - name: runner
                match: [{name: run}]
                allow: [{scope: lan}]
            rescope:
              - cidr: 198.18.5.0/24
                scope: lan
            """))
        #expect(engine.evaluate(flow(ProcessFacts(exe: "/bin/run"), to: "198.18.5.1")).verdict == .allowed)
        #expect(engine.evaluate(flow(ProcessFacts(exe: "/bin/run"), to: "198.18.6.1")).verdict == .alert)
    }

    @Test func learningModeAlertsOnlyOnPairsOutsideTheBaseline() throws {
        var baseline = Baseline(key: .hash)
        let ui = ProcessFacts(exe: "/usr/bin/node", sha256: String(repeating: "1", count: 64))
        let first = baseline.record(flow(ui, to: "198.18.0.1", host: "api.example"))
        let again = baseline.record(flow(ui, to: "198.18.0.2", host: "API.example"))
        #expect(first)
        #expect(!again)
        baseline.record(flow(ui, to: "127.0.0.1"))
        let known = baseline.check(flow(ui, to: "198.18.0.3", host: "api.example"), Decision(verdict: .allowed))
        #expect(known.verdict == .allowed)
        let new = baseline.check(flow(ui, to: "198.18.0.3", host: "new.example"), Decision(verdict: .allowed))
        #expect(new.verdict == .alert)
        #expect(new.rule == Baseline.ruleID)
        let other = ProcessFacts(exe: "/usr/bin/node", sha256: String(repeating: "2", count: 64))
        #expect(baseline.check(flow(other, to: "127.0.0.1"), Decision()).verdict == .alert)
        #expect(try Baseline(parsing: baseline.text(time: { String($0) }), time: { Int64($0) }) == baseline)
        // By path (the default), the same executable updated is the same program.
        var byPath = Baseline()
        byPath.record(flow(ui, to: "127.0.0.1"))
        #expect(byPath.check(flow(other, to: "127.0.0.1"), Decision()).verdict != .alert)
    }

    @Test func domainPatternsMatchExactSubdomainsOrBoth() throws {
        let engine = RuleEngine(rules: try RuleSet.parse("""
            classes:
              - {name: exact, tag: exact, domains: [a.example]}
              - {name: subs, tag: subs, domains: ["*.b.example"]}
              - {name: both, tag: both, domains: [.c.example]}
              - {name: glob, tag: glob, domains: ["tele*.d.example"]}
              - {name: nets, tag: nets, networks: [10.1.0.0/16, "2001:db8::/32"]}
            """))
        func tags(_ host: String?, _ address: String = "198.18.0.1") -> [String] { engine.evaluate(flow(nil, to: address, host: host)).tags }
        #expect(tags("a.example") == ["exact"])
        #expect(tags("x.a.example") == [])
        #expect(tags("b.example") == [])
        #expect(tags("x.y.b.example") == ["subs"])
        #expect(tags("c.example.") == ["both"])
        #expect(tags("X.C.Example") == ["both"])
        #expect(tags("telemetry.d.example") == ["glob"])
        #expect(tags(nil, "10.1.200.3") == ["nets"])
        #expect(tags(nil, "::ffff:10.1.0.1") == ["nets"])
        #expect(tags(nil, "2001:db8::5") == ["nets"])
        #expect(tags(nil, "10.2.0.1") == [])
    }
}
