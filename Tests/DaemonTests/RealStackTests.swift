import Foundation
import Testing
import TestSupport

/// Real programs from PyPI, as a person runs them: llama-cpp-python's server
/// (`python3 -m llama_cpp.server`) on the tiny model, and a Gradio `ChatInterface` script pointed at
/// it, with Gradio's analytics as shipped. The lab's DNS answers every name with a namespace host
/// that serves HTTP and HTTPS (a self-signed certificate: Gradio's TLS fails after its ClientHello),
/// so whatever Gradio phones is seen by name and fails fast. The daemon, with the built-in rules,
/// must name both programs and the runtime's role, alert on the app's analytics naming the app,
/// and never alert on the runtime.
@Suite(.serialized) struct RealStackTests {
    /// The Python that has llama-cpp-python, its server extras and Gradio: `$PYTHON` or `python3`, as
    /// scripts/setup.sh installs them; nil when it lacks any. Not resolved through symlinks: a
    /// venv's interpreter is a symlink whose path picks the venv.
    static let python: String? = {
        let candidate = ProcessInfo.processInfo.environment["PYTHON"] ?? "python3"
        let probe = try? TestProcess.run([candidate, "-c", """
            import importlib.util as u, sys
            need = ('llama_cpp', 'fastapi', 'uvicorn', 'sse_starlette', 'starlette_context', 'pydantic_settings', 'gradio', 'httpx')
            print(sys.executable if all(map(u.find_spec, need)) else '')
            """])
        let path = probe?.output.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return probe?.status == 0 && !path.isEmpty ? path : nil
    }()

    static let runtimePort = 18985
    static let appPort = 18986

    /// The chat app, written the way its documentation shows: the runtime's OpenAI-compatible API
    /// over httpx, `ChatInterface(fn).launch()` on loopback, analytics left as shipped.
    static let chatApp = """
        import sys
        import gradio as gr
        import httpx

        RUNTIME = f"http://127.0.0.1:{sys.argv[1]}/v1/chat/completions"

        def respond(message, history):
            messages = [{"role": m["role"], "content": m["content"]} for m in history if isinstance(m.get("content"), str)]
            messages.append({"role": "user", "content": message})
            reply = httpx.post(RUNTIME, json={"messages": messages, "max_tokens": 16}, timeout=30)
            reply.raise_for_status()
            return reply.json()["choices"][0]["message"]["content"]

        gr.ChatInterface(respond, title="Local chat").launch(server_name="127.0.0.1", server_port=int(sys.argv[2]))
        """

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, mounts, capture and process events"),
          .enabled(if: RealStackTests.python != nil,
                   "needs llama-cpp-python[server] and gradio importable by $PYTHON or python3: run scripts/setup.sh"))
    func gradiosShippedAnalyticsAlertNamingTheChatAppAndNeverTheRuntime() throws {
        let python = try #require(Self.python)
        let model = try TinyModel.path()
        let host = try TestHost(tag: "rs", subnet: 85)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("realstack")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var helpers: [Process] = []
        defer { for p in helpers { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        func start(_ command: [String], log name: String) throws -> Process {
            let p = try TestProcess.start(command, log: dir + "/\(name).log")
            helpers.append(p)
            return p
        }
        func script(_ text: String, named name: String) throws -> String {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            return dir + "/" + name
        }
        func log(_ name: String) -> String { TestProcess.contents(dir + "/\(name).log") }

        // The stand-in internet: HTTP on 80, HTTPS on 443, every request logged.
        let certificate = try TestProcess.runCombined([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=lab.test", "-days", "1",
            "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
        ])
        try #require(certificate.status == 0, "\(certificate.output)")
        let web = BuiltExecutable.packageRoot.appendingPathComponent("scripts/lab/stand-in-web.py").path
        _ = try start(["ip", "netns", "exec", host.namespace, python, web, "198.18.85.2", dir + "/cert.pem", dir + "/key.pem"], log: "web")
        // The lab's resolver: every A query gets the namespace host, other types an empty answer; each name logged.
        let dns = BuiltExecutable.packageRoot.appendingPathComponent("scripts/lab/lab-resolver.py").path
        _ = try start([python, dns, "127.0.85.53", "198.18.85.2"], log: "dns")
        // The app's own view of the machine's resolver configuration: a bind mount in a mount
        // namespace of its own, so nothing changes for anyone else.
        let resolvConf = try script("nameserver 127.0.85.53\n", named: "resolv.conf")

        let (config, database) = try DaemonFixtures.labConfiguration(in: dir, """
            log_level: info
            alerts: {log: true, desktop: false}
            """)
        let daemonLog = dir + "/daemon.log"
        let daemon = try TestProcess.start([BuiltExecutable.telltale, "daemon", "--config", config], log: daemonLog)
        defer { if daemon.isRunning { daemon.terminate(); daemon.waitUntilExit() } }
        try #require(DaemonFixtures.wait(timeout: 15) { TestProcess.contents(daemonLog).contains("capturing") },
                     "\(TestProcess.contents(daemonLog))")
        #expect(TestProcess.contents(daemonLog).contains("applying the built-in default rules"), "\(TestProcess.contents(daemonLog))")

        // The model runtime, as its documentation starts it.
        let runtime = try start(
            [python, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", "\(Self.runtimePort)"], log: "runtime")
        try #require(DaemonFixtures.wait(timeout: 30) { log("runtime").contains("Uvicorn running on") || !runtime.isRunning },
                     "the runtime did not start:\n\(log("runtime").suffix(2000))")
        try #require(runtime.isRunning, "the runtime ended:\n\(log("runtime").suffix(2000))")

        // The chat app, with any opt-out or redirection the runner's environment might carry removed,
        // and a home and temporary directory of its own (a first run, leaving no cache behind).
        let app = try script(Self.chatApp, named: "chat_app.py")
        let optOuts = ["GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK", "HF_HUB_OFFLINE",
                       "HF_ENDPOINT", "HF_HOME", "XDG_CACHE_HOME", "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true)
        let chat = try start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", #"mount --bind "$0" /etc/resolv.conf && exec "$@""#, resolvConf,
             "env"] + optOuts.flatMap { ["-u", $0] } + ["HOME=\(dir)/home", "GRADIO_TEMP_DIR=\(dir)/gradio",
             python, app, "\(Self.runtimePort)", "\(Self.appPort)"], log: "app")
        try #require(DaemonFixtures.wait(timeout: 40) { log("app").contains("Running on local URL") || !chat.isRunning },
                     "the chat app did not start:\n\(log("app").suffix(3000))")
        try #require(chat.isRunning, "the chat app ended:\n\(log("app").suffix(3000))")
        let runtimePID = Int(runtime.processIdentifier), appPID = Int(chat.processIdentifier)

        // One chat turn through the app's HTTP API, as Gradio documents it: the app asks the runtime.
        let base = "http://127.0.0.1:\(Self.appPort)/gradio_api/call/respond"
        let call = try TestProcess.runCombined(["curl", "-sS", "--max-time", "20", "-H", "Content-Type: application/json",
                                                "-d", #"{"data": ["What stays on this machine?"]}"#, base])
        let event = (try? JSONSerialization.jsonObject(with: Data(call.output.utf8)) as? [String: Any])?["event_id"] as? String
        let eventID = try #require(event, "no event from the app: \(call.output)")
        let answer = try TestProcess.runCombined(["curl", "-sS", "--max-time", "30", base + "/" + eventID])
        #expect(answer.output.contains("event: complete"), "the chat turn failed: \(answer.output)\n\(log("app").suffix(3000))")
        #expect(log("runtime").contains("POST /v1/chat/completions HTTP/1.1\" 200"), "\(log("runtime").suffix(2000))")

        func alerts() -> [[String: Any]] {
            let listed = (try? TestProcess.runCombined([BuiltExecutable.telltale, "alerts", "--db", database, "--format", "ndjson"]).output) ?? ""
            return listed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func flows() -> [[String: Any]] {
            let listed = (try? TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", database, "--by", "flow", "--format", "ndjson"]).output) ?? ""
            return listed.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func end(_ flow: [String: Any], _ key: String) -> [String: Any]? { flow[key] as? [String: Any] }
        func isAnalytics(_ alert: [String: Any]) -> Bool { alert["hostname"] as? String == "api.gradio.app" }
        func callsRuntime(_ flow: [String: Any]) -> Bool {
            flow["remote_port"] as? Int == Self.runtimePort && flow["proto"] as? String == "tcp" && end(flow, "process")?["pid"] as? Int == appPID
        }
        _ = DaemonFixtures.wait(timeout: 15) { alerts().contains(where: isAnalytics) && flows().contains(where: callsRuntime) }
        usleep(1_000_000)
        daemon.terminate()
        daemon.waitUntilExit()
        let lookedUp = Set(log("dns").split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(lookedUp.contains("api.gradio.app"), "the app resolved: \(lookedUp)")

        let alerted = alerts(), recorded = flows()
        let context = "alerts:\n\(alerted)\nnames looked up: \(lookedUp.sorted())\ndaemon:\n\(TestProcess.contents(daemonLog).suffix(3000))"

        // The runtime, wherever it is an end of a flow: its module's name, and the runtime's role.
        let runtimeEnds = recorded.flatMap { [end($0, "process"), end($0, "peer_process")] }.compactMap { $0 }
            .filter { $0["pid"] as? Int == runtimePID }
        #expect(!runtimeEnds.isEmpty, "no flow names the runtime (pid \(runtimePID))")
        for p in runtimeEnds {
            #expect(p["program"] as? String == "llama_cpp.server", "\(p)")
            #expect(p["program_kind"] as? String == "module", "\(p)")
            #expect(p["role"] as? String == "model-runtime", "\(p)")
        }
        // The app, wherever it is an end of a flow: its script's name.
        let appEnds = recorded.flatMap { [end($0, "process"), end($0, "peer_process")] }.compactMap { $0 }
            .filter { $0["pid"] as? Int == appPID }
        #expect(!appEnds.isEmpty, "no flow names the app (pid \(appPID))")
        for p in appEnds {
            #expect(p["program"] as? String == "chat_app.py", "\(p)")
            #expect(p["program_kind"] as? String == "script", "\(p)")
        }
        // The app's call to the runtime names both ends and is allowed.
        let toRuntime = recorded.filter(callsRuntime)
        #expect(!toRuntime.isEmpty, "no flow from the app to the runtime")
        for flow in toRuntime {
            #expect(flow["scope"] as? String == "loopback", "\(flow)")
            #expect(end(flow, "peer_process")?["program"] as? String == "llama_cpp.server", "\(flow)")
            #expect(flow["verdict"] as? String == "allowed", "\(flow)")
        }

        // Gradio's version check to api.gradio.app, its analytics endpoint: alerted, naming the app.
        let analytics = alerted.filter(isAnalytics)
        #expect(!analytics.isEmpty, "no alert for Gradio's analytics\n\(context)")
        for alert in analytics {
            #expect(alert["program"] as? String == "chat_app.py", "\(alert)")
            #expect(alert["pid"] as? Int == appPID, "\(alert)")
            #expect(["telemetry", "chatbot-ui-telemetry"].contains(alert["rule"] as? String ?? ""), "\(alert)")
            #expect((alert["message"] as? String)?.hasPrefix("chat_app.py ") == true, "\(alert)")
        }
        let analyticsFlows = recorded.filter { $0["hostname"] as? String == "api.gradio.app" }
        #expect(!analyticsFlows.isEmpty, "no flow to api.gradio.app\n\(context)")
        for flow in analyticsFlows {
            #expect(end(flow, "process")?["program"] as? String == "chat_app.py", "\(flow)")
            #expect(flow["verdict"] as? String == "alert", "\(flow)")
        }
        // No alert names the runtime. (Gradio also reports to huggingface.co, a model hub, not a
        // telemetry endpoint: alerted only once the app is a chat client by relation, so not asserted.)
        for alert in alerted {
            #expect(alert["pid"] as? Int != runtimePID && alert["program"] as? String != "llama_cpp.server", "\(alert)")
            #expect((alert["message"] as? String)?.contains("llama_cpp.server") != true, "\(alert)")
        }
    }
}
