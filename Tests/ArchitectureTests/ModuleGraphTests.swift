import Foundation
import Testing

/// The package's module graph, read from the manifest itself (`swift package dump-package`), checked
/// against the layers the README's code map describes: a dependency may point to its own layer or
/// below, never up, and the pure layers do no I/O.
@Suite struct ModuleGraphTests {
    /// Lowest first. Every library and executable target of the package is in exactly one layer.
    static let layers: [(name: String, targets: Set<String>)] = [
        ("vocabulary", ["ThawVocabulary", "TrafficStats"]),
        ("pure cores", ["Autoscaling", "ScalingPolicy", "ActivatorCore", "SeriesSignals", "RemoteReadFormat", "ConfigFields",
                        "MLService", "RoutingFile", "ScaleTargets", "Simulation"]),
        ("I/O pieces", ["CCurl", "CSnappy", "CProtobufC", "CPromPB", "RemoteReadCodec", "PrometheusClient", "ControlHTTP", "LocalDriver"]),
        ("daemons", ["AutoscalerDaemon", "Activator", "Collector", "LocalMode"]),
        ("executables", ["CommandOptions", "ThawCLI", "ThawActivator", "ThawQueue", "ThawCollector", "ThawAutoscaler",
                         "EchoBackend", "DigitsModelServer", "DigitsTransformer"]),
    ]

    /// Packages whose use means I/O or a running process: not for the two pure layers.
    static let ioPackages: Set<String> = ["swift-nio", "swift-service-lifecycle", "swift-log", "swift-prometheus"]

    struct Target {
        var name: String
        var type: String
        var targets: [String] = []
        var packages: [String] = []
    }

    static func manifest() throws -> [String: Target] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Its own scratch path: `swift test` holds the lock on .build while this runs.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-manifest-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        process.arguments = ["swift", "package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ManifestError("swift package dump-package exited \(process.terminationStatus)") }
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = json["targets"] as? [[String: Any]] else { throw ManifestError("no targets in the dumped manifest") }
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

    @Test func vocabularyAndPureCoresDoNoIO() throws {
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
}
