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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // libllama and its headers come from llama-cpp-python; scripts/setup.sh writes the llama.pc.
        .systemLibrary(name: "CLlama", pkgConfig: "llama"),

        .target(name: "PacketParsing", swiftSettings: strict),
        .target(name: "Flows", dependencies: ["PacketParsing"], swiftSettings: strict),
        .target(name: "Reporting", dependencies: ["Flows", "PacketParsing"], swiftSettings: strict),
        .target(
            name: "Capture",
            dependencies: ["CPcap", "PacketParsing", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Monitor",
            dependencies: [
                "Capture", "Flows", "PacketParsing", "Reporting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "telltale",
            dependencies: [
                "Monitor", "Capture", "Flows", "PacketParsing", "Reporting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LlamaRunner",
            dependencies: [
                "CLlama",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "LlamaServer",
            dependencies: ["LlamaRunner", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "telltale-llama",
            dependencies: [
                "LlamaRunner", "LlamaServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        .testTarget(name: "PacketParsingTests", dependencies: ["PacketParsing"], swiftSettings: strict),
        .testTarget(name: "FlowsTests", dependencies: ["Flows", "PacketParsing"], swiftSettings: strict),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Flows", "PacketParsing"], swiftSettings: strict),
        .testTarget(
            name: "CaptureTests",
            dependencies: ["Capture", "PacketParsing", "Flows", "Monitor"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LiveTests",
            dependencies: ["telltale", "Capture", "PacketParsing"],
            swiftSettings: strict
        ),
        .testTarget(name: "LlamaRunnerTests", dependencies: ["LlamaRunner"], swiftSettings: strict),
        .testTarget(
            name: "LlamaServerTests",
            dependencies: ["LlamaServer", "LlamaRunner", "telltale-llama"],
            swiftSettings: strict
        ),
    ]
)
