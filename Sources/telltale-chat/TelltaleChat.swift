import ArgumentParser
import Foundation
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// `telltale-chat`: a minimal chatbot client of an OpenAI-compatible server on this machine. It
/// asks one question and prints the answer; with --model it starts its own runtime
/// (`telltale-llama --serve` on a free loopback port) first and stops it after, as chat
/// applications that bundle a runtime do.
@main
struct TelltaleChat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telltale-chat",
        abstract: "Ask a local model one question through its OpenAI-compatible API, and print the answer.",
        discussion: """
            The server is --url (http on this machine: 127.0.0.1, ::1 or localhost), or, with --model, a \
            telltale-llama started for the question on a free loopback port and stopped after it. \
            Exit status: 0 answered, 1 error (no server, refused, a malformed answer).

            Examples:
              telltale-chat --model /usr/share/telltale/models/tiny.gguf "What stays on this machine?"
              telltale-chat --url http://127.0.0.1:8080/v1 "Hello"
              sudo telltale run -- telltale-chat --model models/tiny.gguf "Hello"
            """,
        version: telltaleVersion
    )

    @Argument(help: "The question.")
    var question: String

    @Option(help: "The API's base URL, e.g. http://127.0.0.1:8080/v1.")
    var url: String?

    @Option(name: .shortAndLong, help: "Start telltale-llama --serve on this GGUF model for the question (instead of --url).")
    var model: String?

    @Option(help: "The runtime to start with --model (default: telltale-llama beside this program).")
    var runtime: String?

    @Option(name: [.customShort("n"), .long], help: "The most tokens of the answer.")
    var maxTokens: Int = 48

    @Option(help: "Sampling temperature; 0 takes the most likely token every time.")
    var temperature: Double = 0

    @Flag(help: "Print one JSON object (answer, server, model, token counts) instead of the answer.")
    var json = false

    func validate() throws {
        if (url == nil) == (model == nil) { throw ValidationError("give --url URL or --model FILE (one of them)") }
        if maxTokens <= 0 { throw ValidationError("--max-tokens must be positive") }
        if let url, Endpoint(url) == nil {
            throw ValidationError("--url: '\(url)' is not http://HOST:PORT/PATH on this machine (127.0.0.1, ::1, localhost)")
        }
        if let model, !FileManager.default.fileExists(atPath: model) { throw ValidationError("--model: '\(model)' does not exist") }
    }

    func run() throws {
        var server: ChildProcess?
        defer {
            if let server {
                kill(server.pid, SIGTERM)
                _ = server.wait()
            }
        }
        let endpoint: Endpoint
        if let model {
            let runtime = self.runtime ?? Self.besideMe("telltale-llama")
            guard FileManager.default.isExecutableFile(atPath: runtime) else { fail("the runtime \(runtime) is missing (--runtime PATH)") }
            let child: ChildProcess
            do {
                child = try ChildProcess([runtime, "--model", model, "--serve", "--host", "127.0.0.1", "--port", "0", "--no-hash"], output: .pipe)
            } catch {
                fail("cannot start \(runtime): \(error)")
            }
            server = child
            let deadline = SystemClock.monotonicNanoseconds() + 60_000_000_000
            guard let line = child.readLine(deadline: deadline), line.hasPrefix("listening on "),
                  let address = line.dropFirst("listening on ".count).split(separator: " ").first,
                  let found = Endpoint(String(address))
            else { fail("\(runtime) did not start serving (its message is above)") }
            endpoint = found
        } else {
            endpoint = Endpoint(url ?? "")!
        }
        let body: [String: Any] = [
            "model": "local", "max_tokens": maxTokens, "temperature": temperature,
            "messages": [["role": "user", "content": question]],
        ]
        let request = try JSONSerialization.data(withJSONObject: body)
        let response: (status: Int, body: Data)
        do {
            response = try endpoint.post(path: "/chat/completions", body: request, timeout: 120)
        } catch {
            fail("\(endpoint.description): \(error)")
        }
        guard response.status == 200,
              let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let answer = (choice["message"] as? [String: Any])?["content"] as? String
        else {
            fail("\(endpoint.description) answered status \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        if json {
            let usage = object["usage"] as? [String: Any] ?? [:]
            var summary: [String: Any] = ["completion": answer, "server": endpoint.description, "model": object["model"] ?? ""]
            for key in ["prompt_tokens", "completion_tokens"] { summary[key] = usage[key] }
            let data = (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])) ?? Data("{}".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(answer)
        }
    }

    static func besideMe(_ name: String) -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
    }

    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("telltale-chat: error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}
