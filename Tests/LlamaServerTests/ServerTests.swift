import Foundation
import Testing
import TestSupport

@Suite("The OpenAI-compatible server, answered by curl", .serialized)
struct ServerTests {
    /// A running `telltale-llama --serve` on a free loopback port, stopped when done.
    final class RunningServer {
        let server: TestProcess.Background
        var process: Process { server.process }
        let baseURL: String

        let directory: String

        init() throws {
            let arguments = ["--model", try TinyModel.path(), "--serve", "--port", "0", "--threads", "2", "--model-name", "tiny"]
            directory = try ScratchDirectory.make("llama-serve")
            server = try TestProcess.Background([try BuiltExecutable.require("telltale-llama")] + arguments, directory: directory, name: "server")
            // The first line says where the server listens; wait for it (the model loads first).
            var text = ""
            for _ in 0..<600 where server.process.isRunning {
                text = server.output
                if text.contains("\n") { break }
                usleep(50_000)
            }
            guard let start = text.range(of: "http://"), let end = text.range(of: "/v1", range: start.upperBound..<text.endIndex) else {
                server.process.terminate()
                try? FileManager.default.removeItem(atPath: directory)
                throw TestProcess.Failure("the server did not say where it listens: \(text.debugDescription)")
            }
            baseURL = String(text[start.lowerBound..<end.upperBound])
        }

        deinit {
            process.terminate()  // SIGTERM: the server must stop on it
            for _ in 0..<100 where process.isRunning { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func curl(_ path: String, body: String? = nil) throws -> String {
            var arguments = ["-sS", "--max-time", "60", "-N", baseURL + path]
            if let body {
                arguments += ["-H", "Content-Type: application/json", "-d", body]
            }
            let outcome = try TestProcess.run(["/usr/bin/curl"] + arguments)
            guard outcome.status == 0 else {
                throw TestProcess.Failure("curl \(path) failed: \(outcome.error)")
            }
            return outcome.output
        }
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func listsTheModelItServes() throws {
        let server = try RunningServer()
        #expect(server.baseURL.hasPrefix("http://127.0.0.1:"))
        let list = try json(try server.curl("/models"))
        #expect(list["object"] as? String == "list")
        let data = try #require(list["data"] as? [[String: Any]])
        #expect(data.count == 1)
        #expect(data.first?["id"] as? String == "tiny")
        let meta = try #require(data.first?["meta"] as? [String: Any])
        #expect(meta["architecture"] as? String == "llama")
    }

    @Test func aStreamedChatCompletionMatchesTheWholeOne() throws {
        let server = try RunningServer()
        let request = #"{"model":"tiny","messages":[{"role":"user","content":"Where did the packet go?"}],"max_tokens":16,"temperature":0"#
        let whole = try json(try server.curl("/chat/completions", body: request + "}"))
        let choices = try #require(whole["choices"] as? [[String: Any]])
        let message = try #require(choices.first?["message"] as? [String: Any])
        let content = try #require(message["content"] as? String)
        #expect(!content.isEmpty)
        #expect((whole["usage"] as? [String: Any])?["completion_tokens"] as? Int == 16)

        let stream = try server.curl("/chat/completions", body: request + #","stream":true}"#)
        let events = stream.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.allSatisfy { $0.hasPrefix("data: ") })
        #expect(events.last == "data: [DONE]")
        var streamed = ""
        var finish: String?
        var contentEvents = 0
        for event in events.dropLast() {
            let chunk = try json(String(event.dropFirst("data: ".count)))
            #expect(chunk["object"] as? String == "chat.completion.chunk")
            let choice = try #require((chunk["choices"] as? [[String: Any]])?.first)
            if let delta = choice["delta"] as? [String: Any], let text = delta["content"] as? String, !text.isEmpty {
                streamed += text
                contentEvents += 1
            }
            if let reason = choice["finish_reason"] as? String { finish = reason }
        }
        #expect(contentEvents > 1)
        #expect(streamed == content)
        #expect(finish == "length")
    }

    @Test func answersPlainCompletions() throws {
        let server = try RunningServer()
        let body = #"{"prompt":"The packet","max_tokens":8,"temperature":0.7,"seed":5}"#
        let a = try json(try server.curl("/completions", body: body))
        let b = try json(try server.curl("/completions", body: body))
        let text = try #require((a["choices"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(!text.isEmpty)
        #expect(text == (b["choices"] as? [[String: Any]])?.first?["text"] as? String)
    }

    @Test func rejectsABadRequestWithAnOpenAIError() throws {
        let server = try RunningServer()
        let reply = try json(try server.curl("/chat/completions", body: "{not json"))
        #expect((reply["error"] as? [String: Any])?["message"] is String)
        let missing = try json(try server.curl("/nothing-here"))
        #expect(missing["error"] != nil)
    }
}
