import ConfigFields

/// An MLServiceRuntime, or KServe's ServingRuntime or ClusterServingRuntime: the model server a
/// predictor with `model.runtime` (or a `model.modelFormat` it supports) runs, with its templates.
public struct RuntimeSpec: Sendable, Equatable {
    public var name: String
    /// `MLServiceRuntime`, `ServingRuntime` or `ClusterServingRuntime`, for messages.
    public var kind: String = "MLServiceRuntime"
    /// KServe's `supportedModelFormats`: what a predictor naming only its model format may run on.
    public var supportedModelFormats: [SupportedModelFormat] = []
    /// KServe's `protocolVersions` (`v1`, `v2`, `grpc-v1`, `grpc-v2`); KServe's default, `v1`, when unset.
    public var protocolVersions: [String] = ["v1"]
    /// A disabled runtime may be declared but not used.
    public var enabled: Bool
    /// The template's first container; local mode runs no other.
    public var container: ContainerSpec
    /// The runtime template's annotations, defaults for the predictors that use it.
    public var annotations: [String: String]
    /// Where each annotation is written.
    public var annotationSources: [String: SourceLine]

    public init(name: String, enabled: Bool = true, container: ContainerSpec, annotations: [String: String] = [:],
                annotationSources: [String: SourceLine] = [:]) {
        self.annotationSources = annotationSources
        self.name = name
        self.enabled = enabled
        self.container = container
        self.annotations = annotations
    }
}

/// One entry of a KServe runtime's `supportedModelFormats`.
public struct SupportedModelFormat: Sendable, Equatable {
    public var name: String
    public var version: String?
    /// Whether a predictor that names only this format may be given this runtime.
    public var autoSelect: Bool
    /// Among runtimes that may be auto-selected for a format, the highest wins (unset counts as 0).
    public var priority: Int?

    public init(name: String, version: String? = nil, autoSelect: Bool = false, priority: Int? = nil) {
        self.name = name
        self.version = version
        self.autoSelect = autoSelect
        self.priority = priority
    }

    /// KServe's rule: the names are equal, and when the predictor gives a version, the runtime gives
    /// one with the same major version (the part before the first dot).
    public func supports(_ format: ModelFormat) -> Bool {
        guard name == format.name else { return false }
        guard let wanted = format.version else { return true }
        guard let version else { return false }
        return Self.major(version) == Self.major(wanted)
    }

    static func major(_ version: String) -> Substring {
        version.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}

/// A predictor's `model.modelFormat` (KServe's field).
public struct ModelFormat: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var version: String?

    public init(name: String, version: String? = nil) {
        self.name = name
        self.version = version
    }

    public var description: String { version.map { "\(name) version \($0)" } ?? name }
}

/// Which runtime a predictor that names only its model format runs on: among the enabled runtimes
/// whose entry for the format allows auto-selection and matches its version, the highest priority.
/// Where KServe then takes the newest runtime and warns that the choice is not guaranteed, Thaw
/// refuses and names the tied runtimes: a deployment should not depend on creation times.
public enum RuntimeSelection {
    public enum Outcome: Sendable, Equatable {
        case chosen(String)
        case refused(String)
    }

    /// - Parameter protocolVersion: the predictor's `model.protocolVersion` (KServe's default `v1`
    ///   when unset): a runtime that does not speak it is no candidate, as in KServe.
    public static func choose(_ format: ModelFormat, protocolVersion: String? = nil, among runtimes: [RuntimeSpec]) -> Outcome {
        let wanted = protocolVersion ?? "v1"
        let candidates = runtimes.compactMap { runtime -> (runtime: RuntimeSpec, priority: Int)? in
            guard runtime.enabled, runtime.protocolVersions.contains(wanted),
                  let entry = runtime.supportedModelFormats.first(where: { $0.autoSelect && $0.supports(format) }) else { return nil }
            return (runtime, entry.priority ?? 0)
        }
        guard let best = candidates.map(\.priority).max() else {
            let listing = runtimes.filter { !$0.supportedModelFormats.isEmpty }.map { runtime in
                "\(runtime.kind) \(runtime.name) (\(runtime.supportedModelFormats.map { entry in entry.name + (entry.version.map { " " + $0 } ?? "") + (entry.autoSelect ? "" : ", not autoSelect") }.joined(separator: "; "))\(runtime.enabled ? "" : ", disabled"); protocols \(runtime.protocolVersions.joined(separator: ", ")))"
            }
            let known = listing.isEmpty ? "no ServingRuntime or ClusterServingRuntime in the file lists model formats" : "runtimes: " + listing.joined(separator: "; ")
            return .refused("no enabled runtime supports model format \(format) with autoSelect: true and protocol \(wanted) (\(known)); add one, or name a runtime in model.runtime")
        }
        let top = candidates.filter { $0.priority == best }.map { "\($0.runtime.kind) \($0.runtime.name)" }.sorted()
        guard top.count == 1 else {
            return .refused("model format \(format) is supported at the same priority (\(best)) by \(top.joined(separator: " and ")); KServe would pick the newest, Thaw does not guess: give one a higher priority, or name the runtime in model.runtime")
        }
        return .chosen(candidates.first { $0.priority == best }!.runtime.name)
    }
}
