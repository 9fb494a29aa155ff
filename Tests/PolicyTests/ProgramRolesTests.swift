import Flows
import PacketParsing
import Testing
@testable import Policy

/// Roles from what a program is, not from a word anywhere in its command line; telemetry alerts for
/// everyone; a chat client known by what it does.
@Suite struct ProgramRolesTests {
    let engine: RuleEngine

    init() throws {
        engine = RuleEngine(rules: try DefaultRulePack.ruleSet())
    }

    static func python(_ cmdline: String, program: String, kind: String) -> ProcessFacts {
        ProcessFacts(exe: "/usr/bin/python3.11", cmdline: cmdline, comm: "python3", program: program, programKind: kind)
    }

    @Test func installingOpenWebUIIsAnInstallerNotAChatUIAndRaisesNothing() {
        for facts in [
            Self.python("/usr/bin/python3 -m pip install open-webui", program: "pip", kind: "module"),
            Self.python("/usr/bin/python3 /usr/local/bin/pip install -U open-webui", program: "pip", kind: "console-script"),
            ProcessFacts(exe: "/usr/bin/git", cmdline: "git clone https://github.com/open-webui/open-webui", comm: "git", program: "git", programKind: "executable"),
            ProcessFacts(exe: "/usr/bin/node", cmdline: "node /usr/lib/node_modules/npm/bin/npm-cli.js install sillytavern", comm: "node", program: "npm", programKind: "node-package"),
        ] {
            #expect(engine.role(of: facts)?.name == "installer", "\(facts.cmdline ?? "")")
            for host in ["pypi.org", "files.pythonhosted.org", "github.com", "registry.npmjs.org"] {
                let d = engine.evaluate(flow(facts, to: "198.18.0.20", host: host))
                #expect(d.verdict != .alert, "\(facts.cmdline ?? "") → \(host): \(d)")
            }
        }
    }

    @Test func openWebUIIsAChatUIByItsProgramWhateverStartsIt() {
        for facts in [
            Self.python("/usr/bin/python3 /usr/local/bin/open-webui serve", program: "open-webui", kind: "console-script"),
            Self.python("/usr/bin/python3 -m uvicorn open_webui.main:app --port 8080", program: "open_webui", kind: "module"),
        ] {
            #expect(engine.role(of: facts)?.name == "chatbot-ui", "\(facts.cmdline ?? "")")
            #expect(engine.evaluate(flow(facts, to: "198.18.0.9", host: "api.example.org")).verdict == .alert)
            #expect(engine.evaluate(flow(facts, to: "127.0.0.1", port: 11434)).verdict == .allowed)
        }
        // The word alone does not make a chat UI: an editor opening a file of that name is nobody.
        let editor = ProcessFacts(exe: "/usr/bin/vim", cmdline: "vim open-webui/README.md", comm: "vim", program: "vim", programKind: "executable")
        #expect(engine.role(of: editor) == nil)
    }

    @Test func llamaCppPythonsServerIsAModelRuntimeByItsModule() {
        let server = Self.python("/usr/bin/python3 -m llama_cpp.server --model /m/tiny.gguf", program: "llama_cpp.server", kind: "module")
        #expect(engine.role(of: server)?.name == "model-runtime")
        #expect(engine.evaluate(flow(server, to: "198.18.0.9", host: "example.org")).verdict == .alert)
    }

    @Test func telemetryAlertsForAProgramWithNoRoleAndForAnInstaller() {
        let script = Self.python("/usr/bin/python3 app.py", program: "app.py", kind: "script")
        #expect(engine.role(of: script) == nil)
        let d = engine.evaluate(flow(script, to: "198.18.0.30", host: "api.gradio.app"))
        #expect(d.verdict == .alert)
        #expect(d.severity == .medium)
        #expect(d.tags.contains("telemetry"))
        #expect(d.message?.hasPrefix("app.py (/usr/bin/python3.11)") == true, "\(d.message ?? "")")
        // The same script's other traffic is not judged: it has no role and the destination no class.
        #expect(engine.evaluate(flow(script, to: "198.18.0.31", host: "example.org")).verdict == .unrated)
        let pip = Self.python("/usr/bin/python3 -m pip install x", program: "pip", kind: "module")
        #expect(engine.evaluate(flow(pip, to: "198.18.0.30", host: "api.gradio.app")).verdict == .alert)
    }

    @Test func aProgramThatCallsAModelRuntimeIsAChatClientByRelation() {
        var script = Self.python("/usr/bin/python3 chat.py", program: "chat.py", kind: "script")
        #expect(engine.evaluate(flow(script, to: "198.18.0.9", host: "example.org")).role == nil)
        script.relatedRole = "chatbot-ui"
        let d = engine.evaluate(flow(script, to: "198.18.0.9", host: "example.org"))
        #expect(d.role == "chatbot-ui")
        #expect(d.roleSource == .relation)
        #expect(d.verdict == .alert)
        // A matcher's role wins over a relation.
        var runtime = Self.python("/usr/bin/python3 -m llama_cpp.server", program: "llama_cpp.server", kind: "module")
        runtime.relatedRole = "chatbot-ui"
        let r = engine.evaluate(flow(runtime, to: "127.0.0.1", port: 8080))
        #expect(r.role == "model-runtime" && r.roleSource == .matcher)
    }

    @Test func theProgramMatcherTakesGlobsAndKinds() throws {
        let rules = try RuleSet.parse("""
            rules:
              - name: no-gradio-apps
                match: {program: "gr*.py", program_kind: script}
                action: alert
            """)
        let engine = RuleEngine(rules: rules)
        let app = Self.python("/usr/bin/python3 gradio_chat.py", program: "gradio_chat.py", kind: "script")
        #expect(engine.evaluate(flow(app, to: "198.18.0.9")).rule == "no-gradio-apps")
        let module = Self.python("/usr/bin/python3 -m gradio_chat.py", program: "gradio_chat.py", kind: "module")
        #expect(engine.evaluate(flow(module, to: "198.18.0.9")).rule == nil)
    }
}
