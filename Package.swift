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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),

        .target(name: "PacketParsing", swiftSettings: strict),
        .target(name: "Flows", dependencies: ["PacketParsing"], swiftSettings: strict),
        .target(name: "Reporting", dependencies: ["Flows", "PacketParsing"], swiftSettings: strict),
        .target(
            name: "Capture",
            dependencies: ["CPcap", "PacketParsing", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "ProcessAttribution",
            dependencies: ["PacketParsing", .product(name: "Logging", package: "swift-log")],
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

        .executableTarget(
            name: "attribution-bench",
            dependencies: ["ProcessAttribution", "PacketParsing", .product(name: "Logging", package: "swift-log")],
            path: "bench/AttributionBench",
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
            name: "ProcessAttributionTests",
            dependencies: ["ProcessAttribution", "PacketParsing", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LiveTests",
            dependencies: ["telltale", "Capture", "PacketParsing"],
            swiftSettings: strict
        ),
    ]
)
