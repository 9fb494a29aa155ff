// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "telltale",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "telltale", targets: ["telltale"]),
        .executable(name: "telltale-llama", targets: ["telltale-llama"]),
        .executable(name: "telltale-chat", targets: ["telltale-chat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // libllama and its headers come from llama-cpp-python; scripts/setup.sh writes the llama.pc.
        .systemLibrary(name: "CLlama", pkgConfig: "llama"),
        // setns(2) for running a capture inside an isolated network namespace.
        .systemLibrary(name: "CLinux"),
        // libbpf loaders and ring-buffer readers for bpf/socket_events.bpf.c and bpf/tls_writes.bpf.c
        // (both embedded by EmbedBPF).
        .target(name: "CBPF", linkerSettings: [.linkedLibrary("bpf")]),
        .plugin(name: "EmbedBPF", capability: .buildTool()),
        // The default rule pack (rules/) built into the Policy module.
        .plugin(name: "EmbedRules", capability: .buildTool()),

        // The POSIX edges every adapter shares: child processes, clocks, file digests, errno.
        .target(
            name: "Posix",
            dependencies: ["CLinux", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The one HTTP/1.1 of the project: request heads, responses, server-sent events, the hardened
        // server every endpoint runs on, and the client of the webhook and the chat.
        .target(name: "HTTP", dependencies: ["Posix", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "PacketParsing", swiftSettings: strict),
        .target(name: "Flows", dependencies: ["PacketParsing"], swiftSettings: strict),
        .target(
            name: "NameParsing",
            dependencies: [
                "PacketParsing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Names", dependencies: ["NameParsing", "PacketParsing", "Flows"], swiftSettings: strict),
        // Prompts to local runtimes as fingerprints, and egress plaintext matched against them: never text.
        .target(name: "Content", swiftSettings: strict),
        .target(name: "Reporting", dependencies: ["Flows", "PacketParsing"], swiftSettings: strict),
        .target(
            name: "Policy",
            dependencies: ["Flows", "PacketParsing", "Reporting", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict,
            plugins: ["EmbedRules"]
        ),
        .target(
            name: "Alerting",
            dependencies: ["Reporting", "Posix", "HTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Capture",
            dependencies: ["CPcap", "PacketParsing", "Posix", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "FlowStore",
            dependencies: [
                "Reporting", "Flows", "PacketParsing", "Posix",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ProcessAttribution",
            dependencies: ["PacketParsing", "CBPF", "Posix", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict,
            plugins: ["EmbedBPF"]
        ),
        // Flows and figures for the engines a fleet already runs: IPFIX, Prometheus metrics.
        .target(name: "Export", dependencies: ["Reporting", "PacketParsing", "Posix", "HTTP"], swiftSettings: strict),
        .target(
            name: "Monitor",
            dependencies: [
                "Capture", "Flows", "Names", "PacketParsing", "Reporting", "FlowStore", "ProcessAttribution", "Policy", "Alerting", "Posix", "Export", "Content", "NameParsing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LlamaRunner",
            dependencies: [
                "CLlama", "Posix",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LlamaServer",
            dependencies: ["LlamaRunner", "HTTP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "telltale-llama",
            dependencies: [
                "LlamaRunner", "LlamaServer", "HTTP", "Posix",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // A minimal chatbot client of the runtime's API: the main job's "chat UI" under observation.
        .executableTarget(
            name: "telltale-chat",
            dependencies: ["Posix", "HTTP", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "telltale",
            dependencies: [
                // Arguments and printing only: the commands' work comes from Monitor (the pipeline, rules,
                // runs, the daemon), FlowStore (what is stored), Reporting (renderers) and Posix.
                "Monitor", "FlowStore", "Reporting", "Posix",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // What every test suite shares: frames and capture files (the benchmarks use them too), the
        // built executables, programs run with their output in files, scratch directories, the tiny model.
        .target(name: "TestSupport", dependencies: ["PacketParsing", "Capture"], swiftSettings: strict),

        .executableTarget(
            name: "attribution-bench",
            dependencies: ["ProcessAttribution", "PacketParsing", "Posix", .product(name: "Logging", package: "swift-log")],
            path: "bench/AttributionBench",
            swiftSettings: strict
        ),
        // The HTTP layer alone, the peer of the Hummingbird server in bench/HummingbirdBench (bench/http-server.sh).
        .executableTarget(name: "http-bench", dependencies: ["HTTP"], path: "bench/HTTPBench", swiftSettings: strict),
        .executableTarget(
            name: "store-bench",
            dependencies: ["FlowStore", "Reporting", "Flows", "PacketParsing"],
            path: "bench/StoreBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "rules-bench",
            dependencies: ["Policy", "Monitor", "Flows", "PacketParsing"],
            path: "bench/RulesBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "bench-capture",
            dependencies: ["TestSupport", "Capture", "Flows", "PacketParsing"],
            path: "Sources/bench-capture",
            swiftSettings: strict
        ),
        // Feeds every parser of untrusted bytes: replays Fuzz/corpus here; scripts/fuzz.sh builds it with libFuzzer.
        .executableTarget(
            name: "fuzz",
            dependencies: [
                "PacketParsing", "NameParsing", "Capture", "LlamaRunner", "LlamaServer", "Policy", "Monitor", "Content", "Export", "HTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Fuzz",
            exclude: ["corpus", "lsan.supp"],
            swiftSettings: strict
        ),

        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Posix", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "PosixTests", dependencies: ["Posix", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "PacketParsingTests", dependencies: ["PacketParsing", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowsTests", dependencies: ["Flows", "PacketParsing", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "NamesTests",
            dependencies: ["Names", "NameParsing", "PacketParsing", "Flows", "Monitor", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReportingTests", dependencies: ["Reporting", "Flows", "PacketParsing", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FlowStoreTests",
            dependencies: ["FlowStore", "Reporting", "Flows", "PacketParsing"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProcessAttributionTests",
            dependencies: ["ProcessAttribution", "PacketParsing", "Posix", "TestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "ContentTests", dependencies: ["Content"], swiftSettings: strict),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "Flows", "PacketParsing", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "AlertingTests",
            dependencies: ["Alerting", "FlowStore", "Reporting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "LlamaRunnerTests", dependencies: ["LlamaRunner", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "LlamaServerTests",
            dependencies: ["LlamaServer", "LlamaRunner", "HTTP", "telltale-llama", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["telltale", "Capture", "FlowStore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "PacketParsing", "Flows", "Monitor", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MonitorTests",
            dependencies: [
                "Monitor", "FlowStore", "Reporting", "Policy", "Capture", "Flows", "PacketParsing", "Posix", "Export",
                "Content", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LiveTests",
            dependencies: ["telltale", "telltale-chat", "telltale-llama", "Capture", "FlowStore", "Flows", "PacketParsing", "Posix", "Reporting", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ExportTests",
            dependencies: ["Export", "Reporting", "Flows", "PacketParsing", "FlowStore", "Posix", "telltale", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "FuzzTests", dependencies: ["fuzz", "TestSupport"], swiftSettings: strict),
    ]
)
