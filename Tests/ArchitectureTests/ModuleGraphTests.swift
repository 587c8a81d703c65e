import Foundation
import Testing
import ThawTestSupport

/// The package's module graph, read from the manifest itself (`swift package dump-package`), checked
/// against the layers the README's code map describes: a dependency may point to its own layer or
/// below, never up, and the pure layers do no I/O.
@Suite struct ModuleGraphTests {
    /// Lowest first. Every library and executable target of the package is in exactly one layer.
    static let layers: [(name: String, targets: Set<String>)] = [
        ("vocabulary", ["ThawVocabulary", "TrafficStats"]),
        ("pure cores", ["Autoscaling", "ScalingPolicy", "ActivatorCore", "SeriesSignals", "RemoteReadFormat", "ConfigFields",
                        "MLService", "RoutingFile", "ScaleTargets", "Simulation", "KubernetesAccess",
                        "KubernetesTargets", "MetricSeries", "ClusterRender", "ChartImage", "CZlib"]),
        ("I/O pieces", ["CCurl", "CSnappy", "CProtobufC", "CPromPB", "RemoteReadCodec", "PrometheusClient", "ControlHTTP", "LocalDriver",
                        "KubernetesClient", "KubernetesDriver", "CurlHTTP"]),
        ("daemons", ["AutoscalerDaemon", "Activator", "Collector", "LocalMode"]),
        ("executables", ["CommandOptions", "ThawCLI", "ThawActivator", "ThawQueue", "ThawCollector", "ThawAutoscaler",
                         "EchoBackend", "DigitsModelServer", "DigitsTransformer", "FuzzChecks", "ThawFuzz"]),
    ]

    /// Packages whose use means I/O or a running process: not for the two pure layers.
    static let ioPackages: Set<String> = ["swift-nio", "swift-service-lifecycle", "swift-log", "swift-prometheus"]

    struct Target {
        var name: String
        var type: String
        var targets: [String] = []
        var packages: [String] = []
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The manifest, dumped once per test run: each dump is a SwiftPM run of several seconds' CPU.
    static func dumpedManifest() throws -> [String: Any] {
        try cachedManifest.get().value
    }

    /// Not `Sendable` ([String: Any]): boxed, and only read.
    final class Dumped: @unchecked Sendable {
        let value: [String: Any]
        init(_ value: [String: Any]) { self.value = value }
    }

    private static let cachedManifest: Result<Dumped, any Error> = Result { Dumped(try dumpManifest()) }

    private static func dumpManifest() throws -> [String: Any] {
        // Its own scratch path: `swift test` holds the lock on .build while this runs.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-manifest-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let dumped = try CommandRun.run(["swift", "package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package"])
        guard dumped.status == 0 else { throw ManifestError("swift package dump-package exited \(dumped.status): \(dumped.stderr)") }
        guard let json = try JSONSerialization.jsonObject(with: Data(dumped.stdout.utf8)) as? [String: Any] else {
            throw ManifestError("the dumped manifest is not a JSON object")
        }
        return json
    }

    static func manifest() throws -> [String: Target] {
        guard let list = try dumpedManifest()["targets"] as? [[String: Any]] else { throw ManifestError("no targets in the dumped manifest") }
        var targets: [String: Target] = [:]
        for entry in list {
            guard let name = entry["name"] as? String, let type = entry["type"] as? String else { continue }
            var target = Target(name: name, type: type)
            for dependency in entry["dependencies"] as? [[String: Any]] ?? [] {
                if let byName = dependency["byName"] as? [Any], let name = byName.first as? String {
                    target.targets.append(name)
                } else if let product = dependency["product"] as? [Any], product.count > 1, let package = product[1] as? String {
                    target.packages.append(package)
                }
            }
            targets[name] = target
        }
        return targets
    }

    struct ManifestError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func layer(of target: String) -> Int? { layers.firstIndex { $0.targets.contains(target) } }

    @Test func everyTargetHasOneLayerAndNoDependencyPointsUp() throws {
        let targets = try Self.manifest()
        let placed = targets.values.filter { $0.type != "test" && $0.name != "ThawTestSupport" }
        #expect(placed.count > 30, "the manifest was read: \(placed.count) targets")
        for target in placed.sorted(by: { $0.name < $1.name }) {
            guard let level = Self.layer(of: target.name) else {
                Issue.record("\(target.name) is in no layer: add it to ModuleGraphTests.layers and the README's code map")
                continue
            }
            for dependency in target.targets {
                guard let below = Self.layer(of: dependency) else { continue }
                #expect(below <= level, "\(target.name) (\(Self.layers[level].name)) depends on \(dependency) (\(Self.layers[below].name)): an upward edge")
            }
        }
        let named = Self.layers.flatMap(\.targets)
        #expect(named.count == Set(named).count, "a target is in two layers")
        for name in named { #expect(targets[name] != nil, "\(name) is in a layer but not in the package") }
    }

    /// Sockets, processes, logging and metrics belong to the I/O pieces and the daemons.
    @Test func vocabularyAndPureCoresUseNoIOPackage() throws {
        let targets = try Self.manifest()
        for target in targets.values where (Self.layer(of: target.name) ?? .max) <= 1 {
            let io = Set(target.packages).intersection(Self.ioPackages)
            #expect(io.isEmpty, "\(target.name) is a pure layer but uses \(io.sorted())")
        }
        for name in Self.layers[0].targets {
            #expect(targets[name]?.targets.isEmpty == true && targets[name]?.packages.isEmpty == true, "vocabulary \(name) depends on something")
        }
    }

    /// The autoscaler daemon's executable is the one that will run in a cluster next to many
    /// activators: it carries no proxy code (no data path, no balancer).
    @Test func theAutoscalerExecutableLinksNoProxyCode() throws {
        let targets = try Self.manifest()
        var seen: Set<String> = []
        var next = ["ThawAutoscaler"]
        while let name = next.popLast() {
            for dependency in targets[name]?.targets ?? [] where seen.insert(dependency).inserted { next.append(dependency) }
        }
        #expect(seen.contains("LocalMode") && seen.contains("AutoscalerDaemon"), "closure: \(seen.sorted())")
        #expect(!seen.contains("Activator") && !seen.contains("ActivatorCore"), "thaw-autoscaler links \(seen.sorted())")
    }

    /// SwiftPM refuses a product whose modules use unsafe flags to a package that depends on this
    /// one by version. A consumer package that asks for every library product, from a tagged copy of
    /// this package, must resolve.
    @Test(.timeLimit(.minutes(5))) func everyLibraryProductCanBeADependencyByVersion() throws {
        guard let products = try Self.dumpedManifest()["products"] as? [[String: Any]] else { throw ManifestError("no products") }
        let libraries = products.compactMap { product -> String? in
            guard let type = product["type"] as? [String: Any], type["library"] != nil else { return nil }
            return product["name"] as? String
        }
        #expect(libraries.contains("ActivatorCore") && libraries.contains("Autoscaling"), "library products: \(libraries)")

        let work = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-consumer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        // The package as it is in this working tree (what git tracks, and what it would track), tagged.
        let copy = work.appendingPathComponent("thaw")
        let listed = try CommandRun.run(["git", "-C", Self.root.path, "ls-files", "--cached", "--others", "--exclude-standard"])
        #expect(listed.status == 0, "git ls-files: \(listed.stdout)")
        for path in listed.stdout.split(separator: "\n").map(String.init) {
            let source = Self.root.appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: source.path) else { continue }
            let destination = copy.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source, to: destination)
        }
        for command in [["git", "init", "-q"], ["git", "add", "-A"],
                        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "copy"],
                        ["git", "tag", "1.0.0"]] {
            let result = try CommandRun.run(command, in: copy)
            try #require(result.status == 0, "\(command.joined(separator: " ")): \(result.stdout + result.stderr)")
        }

        let consumer = work.appendingPathComponent("consumer")
        try FileManager.default.createDirectory(at: consumer.appendingPathComponent("Sources/Consumer"), withIntermediateDirectories: true)
        try "print(\"consumer\")\n".write(to: consumer.appendingPathComponent("Sources/Consumer/main.swift"), atomically: true, encoding: .utf8)
        let dependencies = libraries.map { ".product(name: \"\($0)\", package: \"thaw\")" }.joined(separator: ", ")
        try """
            // swift-tools-version:6.1
            import PackageDescription
            let package = Package(
                name: "Consumer", platforms: [.macOS(.v15)],
                dependencies: [.package(url: "\(copy.absoluteString)", from: "1.0.0")],
                targets: [.executableTarget(name: "Consumer", dependencies: [\(dependencies)])])
            """.write(to: consumer.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        // Resolves, then loads the whole graph, where the unsafe-flags check is made (as `swift build`
        // would, without building anything).
        let loaded = try CommandRun.run(["swift", "package", "--package-path", consumer.path, "--scratch-path",
                                   consumer.appendingPathComponent(".build").path, "show-dependencies"])
        #expect(loaded.status == 0 && !(loaded.stdout + loaded.stderr).contains("unsafe build flags"), "swift package show-dependencies:\n\((loaded.stdout + loaded.stderr))")
    }
}
