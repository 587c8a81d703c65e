// swift-tools-version:6.1
import PackageDescription

// Benchmarks for the Thaw decision core, kept in their own package so that the main package does not
// depend on the benchmark library. Run from this folder: swift package --disable-sandbox benchmark
let package = Package(
    name: "ThawBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The Thaw package itself (the repository root), named so the product reference does not depend on the checkout folder's name.
        .package(name: "Thaw", path: ".."),
        // Naming the traits replaces the defaults (MallocInterposer + RuntimeInterposer): only the malloc
        // interposer is kept, which needs no system library (no jemalloc) on Swift 6.3.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DecisionTick",
            dependencies: [
                .product(name: "Autoscaling", package: "Thaw"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DecisionTick",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
