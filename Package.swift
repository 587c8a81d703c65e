// swift-tools-version:6.1
import PackageDescription

/// Release settings for the proxy's channel handlers, measured with `make bench-activator`: dynamic
/// exclusivity checks (a thread-local lookup on every access to a handler's state, which only its
/// own event loop touches) are left to the compiler's static checks. Debug builds and tests keep
/// every check. SwiftPM refuses a product with unsafe flags to packages that depend on this one by
/// version, so the module that has them (`Activator`) is not a library product; the balancer it
/// specialises (`ActivatorCore`) gets that from `@inlinable`, with no flag, and is one.
let handlerSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

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
        .executable(name: "echo-backend", targets: ["EchoBackend"]),
        .executable(name: "thaw-fuzz", targets: ["ThawFuzz"]),
        .executable(name: "digits-model-server", targets: ["DigitsModelServer"]),
        .executable(name: "digits-transformer", targets: ["DigitsTransformer"]),
        .library(name: "MLService", targets: ["MLService"]),
        .library(name: "TrafficStats", targets: ["TrafficStats"]),
        .library(name: "ActivatorCore", targets: ["ActivatorCore"]),
        .library(name: "ThawVocabulary", targets: ["ThawVocabulary"]),
        .library(name: "RoutingFile", targets: ["RoutingFile"]),
        .library(name: "ScaleTargets", targets: ["ScaleTargets"]),
        .library(name: "ConfigFields", targets: ["ConfigFields"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        // Layers, lowest first: a module depends on its own layer or below, never up
        // (Tests/ArchitectureTests checks this, and the README's code map lists every module).

        // MARK: Vocabulary: the small types every layer speaks. Depends on nothing.

        // Endpoint addresses, host names, the routing table's shape, a local replica's command.
        .target(name: "ThawVocabulary"),
        // The stat and poke messages the activator and sidecars send the autoscaler.
        .target(name: "TrafficStats"),

        // MARK: Pure cores: decisions and documents; no sockets, processes or clocks (time is a value passed in).

        // The pure decision core: no I/O, no dependency beyond the standard library.
        .target(name: "Autoscaling"),
        // Annotations and config-autoscaler keys, parsed and validated into decider and replica specs.
        .target(name: "ScalingPolicy", dependencies: ["Autoscaling"]),
        // zlib, for the PNG charts `thaw simulate --plot` writes.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Replicas over time as a PNG chart: a small rasterizer and PNG encoder, no I/O.
        .target(name: "ChartImage", dependencies: ["CZlib"]),
        // `thaw simulate`: trace decisions, and replays that drive TargetScaler on simulated time.
        .target(name: "Simulation", dependencies: [
            "Autoscaling", "ScalingPolicy", "ConfigFields", "ThawVocabulary", "ChartImage",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The activator's rules without I/O: routing, canary split, balancing, queueing and measuring
        // concurrency.
        .target(name: "ActivatorCore", dependencies: [
            "ThawVocabulary",
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        // `thaw render`: an MLService file as the Kubernetes objects Thaw runs it as.
        .target(name: "ClusterRender", dependencies: ["MLService", "KubernetesTargets", "ScalingPolicy", "ThawVocabulary"]),
        // The routing file (YAML or JSON): read and validated with located errors, and written.
        .target(name: "RoutingFile", dependencies: ["ThawVocabulary", "ConfigFields"]),
        // The one abstraction over where replicas run: scale a target, watch its endpoints and failures.
        .target(name: "ScaleTargets", dependencies: ["ThawVocabulary"]),
        // Prometheus series per label set (per target), and their text exposition.
        .target(name: "MetricSeries"),
        // Where the Kubernetes API is and how to prove who Thaw is: a kubeconfig's context, or a pod's
        // service account.
        .target(name: "KubernetesAccess", dependencies: ["ConfigFields"]),
        // Which workloads Thaw scales on a cluster, and as what: the class, labels and annotations read.
        .target(name: "KubernetesTargets", dependencies: ["ScalingPolicy", "ScaleTargets", "ThawVocabulary"]),
        // Typed, located errors for every input file Thaw reads.
        .target(name: "ConfigFields", dependencies: ["ThawVocabulary", .product(name: "Yams", package: "Yams")]),
        // MLService and MLServiceRuntime documents, and the Go-template subset runtimes use.
        .target(name: "MLService", dependencies: [
            "ThawVocabulary", "ConfigFields",
            .product(name: "Yams", package: "Yams"),
        ]),
        // From Prometheus series (remote read, or an exporter's text) to one value per replica: parsing,
        // replica labels, gauge averages and counter rates. Pure.
        .target(name: "SeriesSignals"),
        // Remote-read wire pieces that need no C library: stream frames, CRC32C, XOR chunk decoding.
        .target(name: "RemoteReadFormat"),

        // MARK: I/O pieces: sockets, processes, C libraries.

        // Small HTTP for control traffic: one-shot calls (probes, pokes, stats) and the admin/intake server.
        .target(name: "ControlHTTP", dependencies: [
            "ThawVocabulary",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
        ]),
        // The local driver: each replica a model-server process behind a thaw-queue sidecar, started,
        // probed, restarted with backoff and stopped without cutting a request off.
        .target(name: "LocalDriver", dependencies: [
            "ThawVocabulary", "ScaleTargets", "ControlHTTP", "TrafficStats",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The C libraries the collector reads Prometheus with (Debian's -dev packages; `make test` installs them).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        // protoc-c's output for proto/*.proto (regenerate with `make proto`).
        .target(name: "CPromPB", dependencies: ["CProtobufC"]),
        // The remote-read request and response bodies: protobuf (protobuf-c) and snappy.
        .target(name: "RemoteReadCodec", dependencies: ["CPromPB", "CProtobufC", "CSnappy", "RemoteReadFormat", "SeriesSignals"]),
        // HTTP reads from metrics sources on libcurl (auth, TLS trust, headers): Prometheus' remote
        // read and an exporter's /metrics page.
        // One blocking HTTP exchange on libcurl (TLS trust, client certificates, streamed bodies), for
        // every control-plane client.
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        .target(name: "PrometheusClient", dependencies: ["CurlHTTP", "RemoteReadCodec", "RemoteReadFormat", "SeriesSignals"]),
        // Calls to the Kubernetes API on libcurl: a cluster's trust and credentials, Status errors, watches.
        .target(name: "KubernetesClient", dependencies: ["CurlHTTP", "KubernetesAccess"]),
        // The Kubernetes replica driver: the cluster mirrored, scale writes, Events.
        .target(name: "KubernetesDriver", dependencies: [
            "KubernetesClient", "KubernetesTargets", "ScaleTargets", "ScalingPolicy", "ThawVocabulary",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // MARK: Daemons: the pieces above wired into running services.

        // The autoscaler daemon: stat and poke intake, the per-target decision loop, metrics, status.
        .target(name: "AutoscalerDaemon", dependencies: [
            "Autoscaling", "ScalingPolicy", "TrafficStats", "ControlHTTP", "ScaleTargets", "MetricSeries",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The activator's data path and services on SwiftNIO.
        .target(name: "Activator", dependencies: [
            "ThawVocabulary", "ActivatorCore", "RoutingFile", "ConfigFields", "ScaleTargets", "TrafficStats", "ControlHTTP", "MetricSeries",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: handlerSettings),
        // The collector daemon: signal definitions, polling Prometheus or exporters, pushing per-target
        // values (or failures) to the autoscaler.
        .target(name: "Collector", dependencies: [
            "PrometheusClient", "CurlHTTP", "RemoteReadCodec", "SeriesSignals", "TrafficStats", "ControlHTTP", "ConfigFields", "ScalingPolicy",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Local mode's wiring: an MLService file planned into targets, routes and policies, the local
        // driver and the autoscaler daemon wired to each other, the routing file kept for a separate
        // activator, and what `thaw status` shows. No proxy code: `thaw up` adds the activator.
        .target(name: "LocalMode", dependencies: [
            "ThawVocabulary", "LocalDriver", "ScaleTargets", "AutoscalerDaemon", "ScalingPolicy", "MLService", "RoutingFile", "ControlHTTP", "ConfigFields",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // MARK: Executables, and the flags they share.

        // What every executable's command line shares: flag checks, --log-level, and the proxy flags of
        // thaw-activator, thaw-queue and thaw up (ProxyOptions, ProxyProcessOptions).
        .target(name: "CommandOptions", dependencies: [
            "ControlHTTP", "KubernetesAccess", "KubernetesClient", "KubernetesDriver", "KubernetesTargets", "ScalingPolicy",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ThawCLI", dependencies: [
            "CommandOptions", "ConfigFields", "ScaleTargets", "ClusterRender",
            "Simulation", "LocalMode", "AutoscalerDaemon", "MLService", "ControlHTTP", "Activator", "ThawVocabulary",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/thaw"),
        .executableTarget(name: "ThawActivator", dependencies: [
            "CommandOptions",
            "Activator", "ControlHTTP", "ThawVocabulary", "KubernetesDriver",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/thaw-activator"),
        .executableTarget(name: "ThawQueue", dependencies: [
            "CommandOptions",
            "Activator", "ActivatorCore", "ControlHTTP", "ThawVocabulary",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/thaw-queue"),
        .executableTarget(name: "ThawAutoscaler", dependencies: [
            "CommandOptions", "ConfigFields", "LocalMode", "MLService", "AutoscalerDaemon", "KubernetesDriver", "ScalingPolicy",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/thaw-autoscaler"),
        .executableTarget(name: "ThawCollector", dependencies: [
            "Collector", "CommandOptions", "ControlHTTP", "PrometheusClient", "RemoteReadCodec", "SeriesSignals",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/thaw-collector"),
        // A small HTTP backend for tests and benchmarks: readiness, echo, slow and failing answers.
        // The properties `make fuzz` tries to break in what the proxy reads (requests, responses,
        // routing files); the tests replay Fuzz/corpus through them.
        .target(name: "FuzzChecks", dependencies: [
            "Activator", "RoutingFile", "ThawVocabulary",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "ThawFuzz", dependencies: ["FuzzChecks"], path: "Sources/thaw-fuzz"),
        .executableTarget(name: "EchoBackend", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        ], path: "Sources/echo-backend"),
        // The example model (a KServe V2 digit classifier) and its transformer, run by `make demo`.
        .executableTarget(name: "DigitsModelServer", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], path: "examples/digits/model-server"),
        .executableTarget(name: "DigitsTransformer", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], path: "examples/digits/transformer"),

        // MARK: Tests

        .testTarget(name: "AutoscalingTests", dependencies: ["Autoscaling"]),
        .testTarget(name: "ScalingPolicyTests", dependencies: ["ScalingPolicy", "Autoscaling"]),
        // Running the package's own executables from tests: finding them, output, exit, memory.
        .target(name: "ThawTestSupport", dependencies: ["ControlHTTP"], path: "Tests/ThawTestSupport",
                exclude: ["fake_apiserver.py", "ready_service.py"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Autoscaling", "ScalingPolicy", "ChartImage", "ThawTestSupport"]),
        .testTarget(name: "MLServiceTests", dependencies: ["MLService", "ConfigFields", "ThawVocabulary"]),
        .testTarget(name: "SeriesSignalsTests", dependencies: ["SeriesSignals"]),
        .testTarget(name: "RemoteReadFormatTests", dependencies: ["RemoteReadFormat"]),
        .testTarget(name: "RemoteReadCodecTests", dependencies: ["RemoteReadCodec", "RemoteReadFormat", "SeriesSignals", "CPromPB"]),
        .testTarget(name: "CollectorTests", dependencies: [
            "Collector", "PrometheusClient", "RemoteReadCodec", "SeriesSignals", "TrafficStats", "ConfigFields", "ThawTestSupport",
        ]),
        .testTarget(name: "PrometheusClientTests", dependencies: [
            "PrometheusClient", "RemoteReadCodec", "SeriesSignals", "ControlHTTP", "ThawTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "AutoscalerDaemonTests", dependencies: [
            "AutoscalerDaemon", "Autoscaling", "ScalingPolicy", "ScaleTargets", "TrafficStats", "ControlHTTP", "ThawVocabulary",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LocalModeTests", dependencies: [
            "LocalMode", "MLService", "ThawVocabulary", "ScaleTargets", "ControlHTTP", "AutoscalerDaemon", "ThawTestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "LocalDriverTests", dependencies: ["LocalDriver", "ThawVocabulary"]),
        .testTarget(name: "KubernetesAccessTests", dependencies: ["KubernetesAccess", "ConfigFields", "ThawTestSupport"]),
        .testTarget(name: "KubernetesDriverTests", dependencies: ["KubernetesDriver", "KubernetesClient", "KubernetesAccess", "KubernetesTargets",
                                                                 "ThawTestSupport"]),
        .testTarget(name: "MetricSeriesTests", dependencies: ["MetricSeries", "ThawTestSupport"]),
        .testTarget(name: "KubernetesTargetsTests", dependencies: ["KubernetesTargets", "ScalingPolicy", "Autoscaling", "ScaleTargets", "ThawVocabulary"]),
        // The fake Kubernetes API server the Kubernetes code is tested against, checked with the real kubectl.
        .testTarget(name: "KubernetesFakeTests", dependencies: ["ThawTestSupport"]),
        .testTarget(name: "KubernetesClientTests", dependencies: ["KubernetesClient", "KubernetesAccess", "ThawTestSupport"]),
        .testTarget(name: "ExampleTests", dependencies: ["ThawTestSupport"]),
        .testTarget(name: "ThawVocabularyTests", dependencies: ["ThawVocabulary"]),
        // The module graph itself, read from this manifest: layers, no upward edge, no I/O in pure cores.
        .testTarget(name: "ArchitectureTests", dependencies: ["ThawTestSupport"]),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzChecks"]),
        .testTarget(name: "ConfigFieldsTests", dependencies: ["ConfigFields", "MLService", "RoutingFile", "Simulation", "ThawVocabulary"]),
        .testTarget(name: "ActivatorCoreTests", dependencies: ["ActivatorCore", "ThawVocabulary", "TrafficStats"]),
        .testTarget(name: "RoutingFileTests", dependencies: ["RoutingFile", "ThawVocabulary", "ConfigFields"]),
        .testTarget(name: "ActivatorTests", dependencies: [
            "Activator", "ActivatorCore", "ThawVocabulary", "ControlHTTP", "ThawTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], exclude: ["small_backlog_server.py", "wave_client.py", "payload_sink.py", "grpc"]),
    ]
)
