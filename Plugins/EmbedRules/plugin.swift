// EmbedRules — embeds the default rule pack (`rules/*.yaml` and the list files under `rules/lists`),
// and the policies of observed runs (`rules/run/*.yaml`),
// in the target it is applied to, as `let defaultRulePackFiles: [(name: String, base64: String)]`.
// With no rules directory installed, the daemon applies this pack; `rules/` stays the editable copy.

import Foundation
import PackagePlugin

@main
struct EmbedRules: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let package = context.package.directoryURL
        let rules = package.appending(path: "rules")
        let script = package.appending(path: "Plugins/EmbedRules/embed-rules.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "DefaultRulePackFiles.swift")
        var inputs = [script]
        for sub in ["", "lists", "run"] {
            let directory = sub.isEmpty ? rules : rules.appending(path: sub)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") && (sub == "lists" || name.hasSuffix(".yaml") || name.hasSuffix(".yml")) {
                inputs.append(directory.appending(path: name))
            }
        }
        return [
            .buildCommand(
                displayName: "EmbedRules: embedding the default rule pack (rules/) into DefaultRulePackFiles.swift",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, rules.path, output.path],
                environment: [:],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
