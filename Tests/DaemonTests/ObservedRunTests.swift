import Foundation
import Testing
import TestSupport

/// A test host in its own network namespace at 198.18.50.2, reached from 198.18.50.1 here.
struct TestHost {
    let namespace: String
    let link: String

    init(tag: String, subnet: Int) throws {
        namespace = "tt-\(tag)-ns"
        link = "tt-\(tag)-a"
        _ = try TestProcess.runCombined(["ip", "netns", "del", namespace])
        _ = try TestProcess.runCombined(["ip", "link", "del", link])
        for command in [
            ["ip", "netns", "add", namespace],
            ["ip", "link", "add", link, "type", "veth", "peer", "name", "tt-\(tag)-b", "netns", namespace],
            ["ip", "addr", "add", "198.18.\(subnet).1/24", "dev", link],
            ["ip", "link", "set", link, "up"],
            ["ip", "-n", namespace, "addr", "add", "198.18.\(subnet).2/24", "dev", "tt-\(tag)-b"],
            ["ip", "-n", namespace, "link", "set", "tt-\(tag)-b", "up"],
            ["ip", "-n", namespace, "link", "set", "lo", "up"],
        ] {
            let result = try TestProcess.runCombined(command)
            guard result.status == 0 else { throw TestProcess.Failure("\(command.joined(separator: " ")): \(result.output)") }
        }
    }

    func remove() {
        _ = try? TestProcess.runCombined(["ip", "netns", "del", namespace])
        _ = try? TestProcess.runCombined(["ip", "link", "del", link])
    }
}

@Suite(.serialized) struct ObservedRunTests {
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: capture and process events"))
    func inferOnTheTinyModelIsCleanAndReportsTheModel() throws {
        let modelPath = try TinyModel.path()
        let dir = try ScratchDirectory.make("infer")
        let result = try TestProcess.runCombined([
            BuiltExecutable.telltale, "infer", "--model", modelPath, "--prompt", "The quick brown fox", "--max-tokens", "16",
            "--report", dir + "/audit",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("verdict: CLEAN"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/audit.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["verdict"] as? String == "clean")
        let model = try #require(report["model"] as? [String: String])
        let sha = try TestProcess.runCombined(["sha256sum", modelPath]).output.split(separator: " ").first.map(String.init)
        #expect(model["sha256"] == sha)
        #expect((report["completion"] as? String)?.isEmpty == false)
        #expect(FileManager.default.fileExists(atPath: dir + "/audit.md"))
    }

    /// The main job's shape: a chatbot client asks the bundled model, served on loopback, under
    /// observation; the audit shows the client's flow to the runtime with both programs and roles.
    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: capture and process events"))
    func inferChatShowsTheClientAndTheRuntimeWithTheirRoles() throws {
        let modelPath = try TinyModel.path()
        let dir = try ScratchDirectory.make("infer-chat")
        let result = try TestProcess.runCombined([
            BuiltExecutable.telltale, "infer", "--chat", "--model", modelPath, "--prompt", "What stays on this machine?",
            "--max-tokens", "24", "--report", dir + "/audit", "--db", dir + "/flows.db",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("verdict: CLEAN"))
        // The command as a shell takes it back, with its quoting.
        #expect(result.output.contains("'What stays on this machine?'"), "\(result.output)")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/audit.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["verdict"] as? String == "clean")
        let completion = try #require(report["completion"] as? String)
        #expect(!completion.isEmpty && !completion.unicodeScalars.contains("\u{FFFD}"), "\(completion.debugDescription)")
        let flows = report["flows"] as? [[String: Any]] ?? []
        let chat = try #require(flows.first { flow in
            ((flow["process"] as? [String: Any])?["exe"] as? String)?.hasSuffix("/telltale-chat") == true && flow["proto"] as? String == "tcp"
        }, "no flow of telltale-chat: \(flows)")
        #expect(chat["scope"] as? String == "loopback")
        #expect(chat["bytes_out"] as? Int ?? 0 > 100 && chat["bytes_in"] as? Int ?? 0 > 100)
        let client = try #require(chat["process"] as? [String: Any])
        let server = try #require(chat["peer_process"] as? [String: Any], "the runtime's end is not named: \(chat)")
        #expect(client["role"] as? String == "chatbot-ui")
        #expect((server["exe"] as? String)?.hasSuffix("/telltale-llama") == true)
        #expect(server["role"] as? String == "model-runtime")
        // The table names both, with their roles; the database keeps them for `report`.
        #expect(result.output.contains("chatbot-ui") && result.output.contains("model-runtime"))
        let stored = try TestProcess.runCombined([BuiltExecutable.telltale, "report", "--db", dir + "/flows.db", "--by", "flow"])
        #expect(stored.output.contains("telltale-chat") && stored.output.contains("telltale-llama") && stored.output.contains("model-runtime"), "\(stored.output)")
        // Its explanation is lines of text (no escaped line breaks), with the client's role.
        let uid = try #require(chat["uid"] as? String)
        let explained = try TestProcess.runCombined([BuiltExecutable.telltale, "rules", "explain", "--db", dir + "/flows.db", uid])
        #expect(explained.status == 0, "\(explained.output)")
        #expect(!explained.output.contains("\\x0a") && explained.output.split(separator: "\n").count >= 8, "\(explained.output)")
        #expect(explained.output.contains("role: chatbot-ui") && explained.output.contains("decision: allowed by run/loopback-only"), "\(explained.output)")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func theAuditFilesAreReadableByTheOwnerAndGroupOnlyLikeTheDatabase() throws {
        let dir = try ScratchDirectory.make("run-mode")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // An audit left by an earlier run, world-readable: rewriting it must tighten it too.
        FileManager.default.createFile(atPath: dir + "/audit.md", contents: Data("old".utf8), attributes: [.posixPermissions: 0o666])
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run", "--db", dir + "/t.db", "--report", dir + "/audit", "--", "true"])
        #expect(result.status == 0, "\(result.output)")
        for file in ["audit.json", "audit.md", "t.db"] {
            var info = stat()
            #expect(stat(dir + "/" + file, &info) == 0, "\(file) missing")
            #expect(info.st_mode & 0o777 == 0o640, "\(file) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
        #expect((try? String(contentsOfFile: dir + "/audit.md", encoding: .utf8))?.contains("old") == false)
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func aProgramSendingOneDatagramToATestHostBreaksThePolicy() throws {
        let host = try TestHost(tag: "runv", subnet: 51)
        defer { host.remove() }
        let dir = try ScratchDirectory.make("run")
        // The datagram goes out, then the program waits a little so that its socket can be looked up.
        let script = "import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.sendto(b'p'*40,('198.18.51.2',4711));time.sleep(0.2)"
        let result = try TestProcess.runCombined([
            BuiltExecutable.telltale, "run", "--report", dir + "/r.json", "--db", dir + "/t.db", "--", "python3", "-c", script,
        ])
        #expect(result.status == 3, "\(result.output)")
        #expect(result.output.contains("198.18.51.2:4711"))
        #expect(result.output.contains("attribution kernel-events") || result.output.contains("attribution polling"), "\(result.output)")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let flows = try #require(report["flows"] as? [[String: Any]])
        let flow = try #require(flows.first { $0["remote_port"] as? Int == 4711 })
        #expect(flow["verdict"] as? String == "alert")
        #expect(flow["bytes_out"] as? Int == 68)
        let process = try #require(flow["process"] as? [String: Any])
        #expect((process["exe"] as? String)?.contains("python3") == true)
        #expect(flow["rule"] as? String == "run/loopback-only/outside")
        // The run's verdict is the engine's: rules explain shows the rule set that decided it.
        let uid = try #require(flow["uid"] as? String)
        let explained = try TestProcess.runCombined([BuiltExecutable.telltale, "rules", "explain", "--db", dir + "/t.db", uid])
        #expect(explained.status == 0, "\(explained.output)")
        #expect(explained.output.contains("rule set run/loopback-only"), "\(explained.output)")
        #expect(explained.output.contains("decision: alert by run/loopback-only/outside"), "\(explained.output)")
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: namespaces, capture and process events"))
    func aDatagramFromAProgramThatExitsAtOnceIsStillNotClean() throws {
        let host = try TestHost(tag: "runx", subnet: 52)
        defer { host.remove() }
        let script = "import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b'q'*10,('198.18.52.2',4712))"
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run", "--", "python3", "-c", script])
        #expect(result.status == 3, "\(result.output)")
        #expect(result.output.contains("198.18.52.2:4712"))
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: capture and process events"))
    func loopbackTrafficOfTheTreeIsCleanAndAttributedThroughAShell() throws {
        let script = """
            import socket, threading, time
            srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
            port = srv.getsockname()[1]
            def serve():
                c, _ = srv.accept(); c.recv(100); c.sendall(b'r' * 100); time.sleep(0.2); c.close()
            threading.Thread(target=serve).start()
            cl = socket.create_connection(('127.0.0.1', port)); cl.sendall(b'a' * 50); cl.recv(100); time.sleep(0.3); cl.close()
            """
        let dir = try ScratchDirectory.make("loop")
        try script.write(toFile: dir + "/loop.py", atomically: true, encoding: .utf8)
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run", "--report", dir + "/r.json", "--", "sh", "-c", "python3 \(dir)/loop.py; true"])
        #expect(result.status == 0, "\(result.output)")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let flows = try #require(report["flows"] as? [[String: Any]])
        let tcp = flows.filter { $0["proto"] as? String == "tcp" }
        #expect(!tcp.isEmpty, "the loopback connection was not attributed to the tree:\n\(result.output)")
        for flow in tcp {
            #expect(flow["scope"] as? String == "loopback")
            #expect(flow["verdict"] as? String == "allowed")
            let process = flow["process"] as? [String: Any]
            #expect((process?["exe"] as? String)?.contains("python3") == true)
        }
    }

    @Test(.enabled(if: DaemonFixtures.isRoot, "needs root: network namespaces"))
    func anIsolatedCommandCannotReachTheTestHost() throws {
        let host = try TestHost(tag: "runi", subnet: 53)
        defer { host.remove() }
        let script = """
            import socket, time
            try:
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'z', ('198.18.53.2', 4713))
                print('sent')
            except OSError as e:
                print('blocked', e.errno)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'l' * 20, ('127.0.0.1', 4714)); time.sleep(0.1)
            """
        let dir = try ScratchDirectory.make("isolate")
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run", "--isolate", "--report", dir + "/r.json", "--", "python3", "-c", script])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("blocked"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/r.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["isolated"] as? Bool == true)
        let flows = (report["flows"] as? [[String: Any]] ?? []) + (report["unattributed_flows"] as? [[String: Any]] ?? [])
        #expect(!flows.contains { $0["remote_addr"] as? String == "198.18.53.2" })
        // The loopback datagram inside the namespace is seen and belongs to the command.
        let loop = try #require((report["flows"] as? [[String: Any]])?.first { $0["remote_port"] as? Int == 4714 })
        #expect(loop["scope"] as? String == "loopback")
    }

    @Test func runHelpShowsTheUsageInsteadOfRunningACommand() throws {
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run", "--help"])
        #expect(result.status == 0)
        #expect(result.output.contains("USAGE: telltale run"))
    }

    @Test func runWithoutACommandExplainsWhatToGive() throws {
        let result = try TestProcess.runCombined([BuiltExecutable.telltale, "run"])
        #expect(result.status != 0)
        #expect(result.output.contains("give the command to run after --") || result.output.contains("needs root"))
    }
}
