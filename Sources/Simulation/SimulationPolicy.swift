import Foundation
import Autoscaling
import ScalingPolicy
import ConfigFields
import Yams

/// What a simulation scales with: a policy file's annotations and config resolved exactly as the
/// autoscaler resolves them, then the file's `spec:` applied on top.
public struct SimulationPolicy: Sendable {
    public var target: TargetPolicy
    /// The file's `containerConcurrency` (0: unlimited): a request replay's slots per replica.
    public var containerConcurrency = 0

    public init(target: TargetPolicy) { self.target = target }

    /// Reads a policy file (YAML or JSON) with any of `annotations`, `config`, `containerConcurrency`, `spec`.
    public init(contentsOf path: String) throws {
        try self.init(text: try readText(path, what: "the policy"), file: path)
    }

    public init(text: String, file: String = "policy") throws {
        let loaded: Any?
        do {
            loaded = try YAMLTree.load(text)
        } catch {
            throw SimulationError(file: file, "is not valid YAML or JSON: \(error)")
        }
        let fields: [String: Any]
        switch loaded {
        case nil: fields = [:]
        case let map as [String: Any]: fields = map
        default: throw SimulationError(file: file, "must be a map with any of: annotations, config, containerConcurrency, spec")
        }
        let reader = FieldReader(fields: fields, file: file, line: nil)
        try reader.rejectUnknown(allowed: ["annotations", "config", "containerConcurrency", "spec"])
        let override = try reader.object("spec").map(SpecOverride.init)
        let annotations = try reader.stringMap("annotations") ?? [:]
        let containerConcurrency = try reader.count("containerConcurrency") ?? 0
        self.containerConcurrency = containerConcurrency
        do {
            let config = try AutoscalerConfig(data: try reader.stringMap("config") ?? [:])
            target = try TargetPolicy(annotations: annotations, config: config, containerConcurrency: containerConcurrency)
        } catch let configError as PolicyError {
            // Every problem at once: a bad config key must not hide the annotations' problems,
            // which are read against the default config to find them.
            var issues = configError.issues
            do {
                _ = try TargetPolicy(annotations: annotations, containerConcurrency: containerConcurrency)
            } catch let annotationError as PolicyError {
                issues += annotationError.issues.filter { !issues.contains($0) }
            }
            throw SimulationError(file: file, PolicyError(issues: issues).description)
        }
        if let override { target.updateDecider(override.apply) }
    }
}

func readText(_ path: String, what: String) throws -> String {
    do {
        // A policy is small, a trace may hold days of samples: both are bounded by the larger limit.
        return try InputFile.text(at: path, what: what, limit: InputFile.traceLimit)
    } catch let error as ConfigError {
        throw SimulationError(file: path, error.message)
    }
}
