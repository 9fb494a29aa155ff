import ArgumentParser
import Foundation
import HTTP
import LlamaRunner
import LlamaServer
import Logging
import Posix

/// `telltale-llama`: runs a GGUF model through llama.cpp, once for a prompt or as an
/// OpenAI-compatible server.
@main
struct TelltaleLlama: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telltale-llama",
        abstract: "Run a local GGUF model: generate a completion, or serve an OpenAI-compatible API on loopback.",
        discussion: """
            Generate: the completion streams to standard output and a summary (tokens per second, model metadata) \
            goes to standard error; --json prints one JSON object with both instead.

            Serve: --serve answers /v1/models, /v1/completions and /v1/chat/completions ("stream": true gives \
            server-sent events) on 127.0.0.1 unless --host says otherwise.

            Exit status: 0 on success, 1 on error (missing or damaged model, failed decode).
            """,
        version: telltaleVersion
    )

    @Option(name: .shortAndLong, help: "The GGUF model file.")
    var model: String

    @Option(name: .shortAndLong, help: "The prompt to complete.")
    var prompt: String?

    @Option(help: "Read the prompt from this file ('-' for standard input).")
    var promptFile: String?

    @Flag(help: "Treat the prompt as one user message and format it with the model's chat template.")
    var chat = false

    @Option(name: [.customShort("n"), .long], help: "The most tokens to generate.")
    var maxTokens: Int = 128

    @Option(help: "Sampling temperature; 0 takes the most likely token every time (greedy).")
    var temperature: Float = 0

    @Option(help: "Nucleus sampling: keep the most likely tokens up to this total probability (with --temperature > 0).")
    var topP: Float = 0.95

    @Option(name: .shortAndLong, help: "Seed of the sampler's random numbers (with --temperature > 0).")
    var seed: UInt32 = 0

    @Option(name: .shortAndLong, help: "Threads for generation (default: all processors).")
    var threads: Int?

    @Option(name: [.customShort("c"), .long], help: "Context length in tokens (default: the model's, at most 4096).")
    var contextLength: Int?

    @Flag(help: "Print one JSON object (completion, timings, model metadata) instead of streaming text.")
    var json = false

    @Flag(help: "Do not hash the model file for the summary.")
    var noHash = false

    @Flag(help: "Print only the completion: no summary on standard error.")
    var quiet = false

    @Flag(help: "Print the model's metadata and exit.")
    var info = false

    @Flag(help: "Serve the OpenAI-compatible API instead of generating once.")
    var serve = false

    @Option(help: "Address to serve on; 127.0.0.1 keeps the API on this machine.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to serve on (0: any free port; the chosen one is printed).")
    var port: Int = 8080

    @Option(help: "The model's name in the API (default: the file name without .gguf).")
    var modelName: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "warning"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level \(logLevel)") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must not be negative") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be a number of at least 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        if let threads, !(1...LlamaEngine.Options.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be from 1 to \(LlamaEngine.Options.maximumThreads)")
        }
        if let contextLength, contextLength < 1 { throw ValidationError("--context-length must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535") }
        if !serve, !info, prompt == nil, promptFile == nil {
            throw ValidationError("give --prompt, --prompt-file, --serve or --info")
        }
        if prompt != nil, promptFile != nil { throw ValidationError("give --prompt or --prompt-file, not both") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "telltale-llama")

        var options = LlamaEngine.Options(contextLength: contextLength)
        if let threads { options.threads = threads }
        let loadStart = ContinuousClock.now
        let engine: LlamaEngine
        do {
            engine = try LlamaEngine(modelPath: model, options: options, logger: Logger(label: "llama.cpp"))
        } catch {
            fail(error.description)
        }
        let loadSeconds = seconds(ContinuousClock.now - loadStart)
        let sha256 = try noHash ? nil : hashModel()

        if info {
            print(String(decoding: Summary.encode(Summary.modelObject(engine.metadata, sha256: sha256, loadSeconds: loadSeconds)), as: UTF8.self))
            return
        }
        if serve {
            try serveAPI(engine: engine, sha256: sha256, logger: logger)
            return
        }

        let text = try readPrompt()
        let prompt: String
        do {
            prompt = chat ? try engine.chatPrompt([ChatMessage(role: "user", content: text)]) : text
        } catch {
            fail(error.description)
        }
        let sampling: Sampling = temperature > 0 ? .temperature(temperature, topP: topP, seed: seed) : .greedy
        let parameters = GenerationParameters(maxTokens: maxTokens, sampling: sampling)
        let result: GenerationResult
        do {
            result = try engine.generate(prompt: prompt, parameters: parameters) { piece in
                if !json {
                    FileHandle.standardOutput.write(Data(piece.utf8))
                }
                return true
            }
        } catch {
            fail(error.description)
        }
        let summary = Summary(result: result, metadata: engine.metadata, sha256: sha256, sampling: sampling,
                              threads: options.threads, loadSeconds: loadSeconds)
        if json {
            print(String(decoding: Summary.encode(summary.object(includingText: true)), as: UTF8.self))
        } else {
            if !result.text.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            if !quiet { FileHandle.standardError.write(Data(summary.humanText().utf8)) }
        }
    }

    private func readPrompt() throws -> String {
        if let prompt { return prompt }
        guard let promptFile else { return "" }
        let data: Data?
        if promptFile == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: promptFile)
        }
        guard let data else { fail("cannot read prompt file \(promptFile)") }
        return String(decoding: data, as: UTF8.self)
    }

    private func hashModel() throws -> String? {
        do {
            return try ModelFile.sha256(path: model)
        } catch {
            fail(error.description)
        }
    }

    private func serveAPI(engine: LlamaEngine, sha256: String?, logger: Logger) throws {
        // A parent may start us with termination signals blocked (a spawning runtime's mask is
        // inherited); the server must still stop on SIGTERM and SIGINT.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        let name = modelName ?? URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        let api = OpenAIServer(engine: engine, modelID: name, sha256: sha256,
                               defaultMaxTokens: maxTokens, logger: logger)
        let server: HTTPServer
        do {
            server = try HTTPServer(host: host, port: port, logger: logger, refusing: OpenAIServer.refusal) { request, writer in
                api.handle(request, writer)
            }
        } catch {
            fail(error.description)
        }
        if host != "127.0.0.1", host != "::1" {
            logger.warning("serving on \(host): the API is reachable from other machines")
        }
        let shownHost = server.host.contains(":") ? "[\(server.host)]" : server.host
        // The first line of standard output says where to connect; scripts and tests read it.
        FileHandle.standardOutput.write(Data("listening on http://\(shownHost):\(server.port)/v1 model \(name)\n".utf8))
        server.run()
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("telltale-llama: error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

func seconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) / 1e18
}
