// EmbedBPF — compiles the BPF programs in bpf/ for the BPF target and embeds each object in the
// target it is applied to as a base64 string (the ELF object):
//   bpf/socket_events.bpf.c  -> `let socketEventsObject: String`  (loader: Sources/CBPF/loader.c)
//   bpf/tls_writes.bpf.c     -> `let tlsWritesObject: String`     (loader: Sources/CBPF/tls_probes.c)
//
// SwiftPM cannot compile `-target bpf` itself. This plugin declares one build command per object,
// run by embed-bpf.sh, whose inputs are the BPF source, the record header it shares with
// Sources/CBPF (and telltale_widths.h, which that includes), bpf/kernel_socket.h (which both programs
// include) and the script, so an object is rebuilt when any of them changes.
//
// clang: the one SwiftPM finds for the plugin (the Swift toolchain's own, next to swiftc, or
// PATH); failing that the script looks on PATH and next to `swift`. The Swift toolchain's clang
// targets BPF. Set TELLTALE_BPF_CLANG to force another one.

import Foundation
import PackagePlugin

@main
struct EmbedBPF: BuildToolPlugin {
    /// One BPF program: its source in bpf/, the header it shares with Sources/CBPF, and the name of
    /// the Swift constant holding its object.
    private struct Program {
        var source: String
        var header: String
        var constant: String
        var swiftFile: String
    }

    private let programs = [
        Program(
            source: "socket_events.bpf.c", header: "telltale_bpf_event.h", constant: "socketEventsObject",
            swiftFile: "SocketEventsObject.swift"),
        Program(
            source: "tls_writes.bpf.c", header: "telltale_tls_event.h", constant: "tlsWritesObject",
            swiftFile: "TLSWritesObject.swift"),
    ]

    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let package = context.package.directoryURL
        let includeDirectory = package.appending(path: "Sources/CBPF/include")
        let script = package.appending(path: "Plugins/EmbedBPF/embed-bpf.sh")
        let kernelSocket = package.appending(path: "bpf/kernel_socket.h")
        let widths = includeDirectory.appending(path: "telltale_widths.h")
        let work = context.pluginWorkDirectoryURL

        // An empty argument lets the script search on its own (and say plainly if it cannot).
        let clang = (try? context.tool(named: "clang"))?.url.path ?? ""

        return programs.map { program in
            let source = package.appending(path: "bpf/\(program.source)")
            let header = includeDirectory.appending(path: program.header)
            let object = work.appending(path: program.source.replacingOccurrences(of: ".c", with: ".o"))
            let output = work.appending(path: program.swiftFile)
            return .buildCommand(
                displayName: "EmbedBPF: compiling bpf/\(program.source) into \(program.swiftFile)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [
                    script.path, clang, source.path, includeDirectory.path, object.path, output.path, program.constant,
                ],
                environment: [:],
                inputFiles: [source, header, widths, kernelSocket, script],
                outputFiles: [output]
            )
        }
    }
}
