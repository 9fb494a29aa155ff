// swift-tools-version: 6.0
// A bench-only peer, never a dependency of Telltale: Hummingbird 2 serving the same bytes as
// `http-bench` (bench/HTTPBench), for bench/http-server.sh.
import PackageDescription

let package = Package(
    name: "HummingbirdBench",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdBench",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        ),
    ]
)
