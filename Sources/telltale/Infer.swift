import ArgumentParser
import Foundation
import Monitor
import Posix
import Reporting

extension Telltale {
    struct Infer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a local model under observation: the completion, then the audit.",
            discussion: """
                Runs telltale-llama (the bundled llama.cpp runner) on the model and prompt as `telltale \
                run` would: every interface captured, the runner's process tree followed, and a verdict \
                on whether anything left this machine. Prints the completion, then the model's sha256 \
                and metadata, the runtime's sha256, the window, the capture's health, every flow of the \
                runner, the machine's unattributed traffic, and the verdict. Exit status: 0 clean, 3 \
                policy violated, 1 error. Needs root.

                --chat plays a local AI stack instead: telltale-chat, a minimal chatbot client, starts \
                telltale-llama --serve on a free loopback port, asks it the prompt through its \
                OpenAI-compatible API, prints the answer and stops it; the audit shows the client's flow \
                to the runtime on loopback, with both programs and their roles.

                Examples:
                  sudo telltale infer --model /usr/share/telltale/models/tiny.gguf --prompt "The quick brown fox" --report audit
                  sudo telltale infer --chat --prompt "What stays on this machine?"
                """
        )

        @Option(help: "The GGUF model file (default: $TELLTALE_MODEL, else ./models/tiny.gguf, else /usr/share/telltale/models/tiny.gguf).")
        var model: String?

        @Option(help: "The prompt to complete.")
        var prompt: String = "The quick brown fox"

        @Option(help: "The most tokens to generate.")
        var maxTokens: Int = 64

        @Option(help: "Sampling temperature; 0 is greedy.")
        var temperature: Double = 0

        @Option(help: "Seed of the sampler (with --temperature > 0).")
        var seed: Int = 42

        @Option(help: "Threads for generation (default: all processors).")
        var threads: Int?

        @Flag(help: "Ask the model through a chatbot client and the runtime's API on loopback (telltale-chat and telltale-llama --serve).")
        var chat = false

        @OptionGroup var observation: ObservationOptions

        var modelPath: String {
            if let model { return model }
            if let chosen = ProcessInfo.processInfo.environment["TELLTALE_MODEL"] { return chosen }
            let local = "models/tiny.gguf"
            if FileManager.default.fileExists(atPath: local) { return local }
            // The package installs the bundled model under the prefix shared with the executable.
            let installed = Self.executableDirectory.deletingLastPathComponent()
                .appendingPathComponent("share/telltale/models/tiny.gguf").path
            return FileManager.default.fileExists(atPath: installed) ? installed : local
        }

        func validate() throws {
            if maxTokens <= 0 { throw ValidationError("--max-tokens must be positive") }
            // What the model server and the runner refuse too: 1e400 reads as infinity.
            if !(temperature.isFinite && Float(temperature).isFinite && temperature >= 0) {
                throw ValidationError("--temperature must be a number of at least 0, such as 0.7")
            }
            if !FileManager.default.fileExists(atPath: modelPath) {
                throw ValidationError("model file '\(modelPath)' does not exist (generate the bundled one with: python3 scripts/make-tiny-model.py)")
            }
        }

        /// The directory of this executable.
        static var executableDirectory: URL {
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            return URL(fileURLWithPath: me).deletingLastPathComponent()
        }

        /// telltale-llama beside this executable.
        static var runnerPath: String { besideMe("telltale-llama") }

        static func besideMe(_ name: String) -> String {
            executableDirectory.appendingPathComponent(name).path
        }

        func run() throws {
            let runner = Self.runnerPath
            guard FileManager.default.isExecutableFile(atPath: runner) else {
                Output.error("telltale: the runner \(runner) is missing; build it with: swift build --product telltale-llama")
                throw ExitCode(1)
            }
            var command = [
                runner, "--model", modelPath, "--prompt", prompt, "--max-tokens", String(maxTokens),
                "--temperature", String(temperature), "--seed", String(seed), "--json",
            ]
            if let threads { command += ["--threads", String(threads)] }
            if chat {
                let client = Self.besideMe("telltale-chat")
                guard FileManager.default.isExecutableFile(atPath: client) else {
                    Output.error("telltale: the chat client \(client) is missing; build it with: swift build --product telltale-chat")
                    throw ExitCode(1)
                }
                command = [
                    client, "--model", modelPath, "--runtime", runner, "--max-tokens", String(maxTokens),
                    "--temperature", String(temperature), "--json", prompt,
                ]
            }
            let outcome = try observation.observe(command, captureOutput: true)
            guard outcome.exitStatus == 0,
                  let summary = try? JSONSerialization.jsonObject(with: Data(outcome.output)) as? [String: Any]
            else {
                Output.error("telltale: the runner failed (exit status \(outcome.exitStatus)); its message is above")
                throw ExitCode(1)
            }
            let completion = summary["completion"] as? String ?? ""
            Output.write(completion + "\n\n")
            var report = observation.audit(kind: "infer", command: command, outcome)
            report.completion = completion
            let modelInfo = summary["model"] as? [String: Any] ?? [:]
            func text(_ value: Any?) -> String? {
                switch value {
                case let s as String: s
                case let n as NSNumber: n.stringValue
                default: nil
                }
            }
            report.model = [("path", modelPath)]
            if chat, let hash = try? FileDigest.sha256(ofFileAt: modelPath) { report.model.append(("sha256", hash)) }
            for key in ["sha256", "architecture", "name", "parameter_count", "vocab_size", "context_length", "file_size"] {
                if let value = text(modelInfo[key]) { report.model.append((key, value)) }
            }
            report.runtime = [("exe", runner)]
            if chat, let server = summary["server"] as? String { report.runtime.append(("served", server + " (loopback)")) }
            if let hash = try? FileDigest.sha256(ofFileAt: runner) { report.runtime.append(("sha256", hash)) }
            for key in ["tokens_per_second", "completion_tokens", "prompt_tokens", "threads"] {
                if let value = text(summary[key]) { report.runtime.append((key, value)) }
            }
            try observation.finish(report, outcome: outcome)
        }
    }
}
