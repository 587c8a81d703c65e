// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Thaw",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "thaw", targets: ["ThawCLI"]),
        .executable(name: "thaw-activator", targets: ["ThawActivator"]),
        .executable(name: "thaw-queue", targets: ["ThawQueue"]),
        .executable(name: "thaw-collector", targets: ["ThawCollector"]),
        .executable(name: "thaw-autoscaler", targets: ["ThawAutoscaler"]),
        .library(name: "Autoscaling", targets: ["Autoscaling"]),
        .library(name: "ScalingPolicy", targets: ["ScalingPolicy"]),
        .library(name: "Simulation", targets: ["Simulation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // The pure decision core: no I/O, no dependency beyond the standard library.
        .target(name: "Autoscaling"),
        // Annotations and config-autoscaler keys, parsed and validated into decider and replica specs.
        .target(name: "ScalingPolicy", dependencies: ["Autoscaling"]),
        // Trace and replay simulation over the decision core.
        .target(name: "Simulation", dependencies: [
            "Autoscaling", "ScalingPolicy",
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "ThawCLI", dependencies: [
            "Simulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw"),
        .executableTarget(name: "ThawActivator", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw-activator"),
        .executableTarget(name: "ThawQueue", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw-queue"),
        .executableTarget(name: "ThawCollector", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw-collector"),
        .executableTarget(name: "ThawAutoscaler", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw-autoscaler"),
        .testTarget(name: "AutoscalingTests", dependencies: ["Autoscaling"]),
        .testTarget(name: "ScalingPolicyTests", dependencies: ["ScalingPolicy"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation"]),
    ]
)
