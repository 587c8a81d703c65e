import ConfigFields

/// A `template` (pod template) as local mode reads it: annotations for the autoscaler, the container
/// concurrency for the activator, and the containers to run as processes.
struct PodTemplate: Sendable {
    static let ignoredSpecFields = ["volumes", "nodeSelector", "tolerations", "affinity", "serviceAccountName"]

    var annotations: [String: String] = [:]
    /// Where each annotation is written, for policy errors found later.
    var annotationSources: [String: SourceLine] = [:]
    var containerConcurrency: Int?
    var containers: [ContainerSpec] = []

    init() {}

    /// `allowsConcurrency` is false for a runtime's template: concurrency is a property of the
    /// component serving traffic, set in the MLService.
    init(_ reader: FieldReader, allowsConcurrency: Bool, baseDirectory: String, notes: inout [ConfigError]) throws {
        try reader.rejectUnknown(allowed: ["metadata", "spec"])
        if let metadata = try reader.object("metadata") {
            try metadata.accept(used: ["annotations"], ignored: ["labels"], because: "labels select pods in a cluster and have no effect on local processes", notes: &notes)
            annotations = try metadata.stringMap("annotations") ?? [:]
            for key in annotations.keys { annotationSources[key] = metadata.source(of: "annotations.\(key)") }
        }
        guard let spec = try reader.object("spec") else { return }
        try spec.accept(used: ["containers"] + (allowsConcurrency ? ["containerConcurrency"] : []),
                        ignored: Self.ignoredSpecFields, because: "replicas run as processes on this machine, not as pods", notes: &notes)
        if allowsConcurrency, let concurrency = try spec.count("containerConcurrency") {
            guard concurrency <= 1000 else {
                throw spec.error("field \(spec.quoted("containerConcurrency")) must be from 0 to 1000 (0 for no limit), got \(concurrency)", at: "containerConcurrency")
            }
            containerConcurrency = concurrency
        }
        for container in try spec.objectList("containers") ?? [] {
            containers.append(try ContainerSpec(container, baseDirectory: baseDirectory, notes: &notes))
        }
        if containers.count > 1 {
            notes.append(spec.error("field \"\(spec.path)containers\" lists \(containers.count) containers; local mode runs only containers[0] and ignores the rest", at: "containers[1]"))
        }
    }
}
