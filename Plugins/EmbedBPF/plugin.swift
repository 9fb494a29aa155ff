// EmbedBPF — compiles bpf/socket_events.bpf.c for the BPF target and embeds the object in the
// target it is applied to, as `let socketEventsObject: String` (base64 of the ELF object).
//
// SwiftPM cannot compile `-target bpf` itself. This plugin declares one build command, run by
// embed-bpf.sh, whose inputs are the BPF source, the event header it shares with
// Sources/CBPF and the script, so the object is rebuilt when any of them changes.
//
// clang: the one SwiftPM finds for the plugin (the Swift toolchain's own, next to swiftc, or
// PATH); failing that the script looks on PATH and next to `swift`. The Swift toolchain's clang
// targets BPF. Set TELLTALE_BPF_CLANG to force another one.

import Foundation
import PackagePlugin

@main
struct EmbedBPF: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let package = context.package.directoryURL
        let source = package.appending(path: "bpf/socket_events.bpf.c")
        let includeDirectory = package.appending(path: "Sources/CBPF/include")
        let header = includeDirectory.appending(path: "telltale_bpf_event.h")
        let script = package.appending(path: "Plugins/EmbedBPF/embed-bpf.sh")
        let work = context.pluginWorkDirectoryURL
        let object = work.appending(path: "socket_events.bpf.o")
        let output = work.appending(path: "SocketEventsObject.swift")

        // An empty argument lets the script search on its own (and say plainly if it cannot).
        let clang = (try? context.tool(named: "clang"))?.url.path ?? ""

        return [
            .buildCommand(
                displayName: "EmbedBPF: compiling bpf/socket_events.bpf.c into SocketEventsObject.swift",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, clang, source.path, includeDirectory.path, object.path, output.path],
                environment: [:],
                inputFiles: [source, header, script],
                outputFiles: [output]
            )
        ]
    }
}
