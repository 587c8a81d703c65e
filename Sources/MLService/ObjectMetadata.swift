import ConfigFields

/// A Kubernetes object's `metadata`, as far as local mode uses it.
struct ObjectMetadata: Sendable {
    /// The top-level fields of a document besides `status`.
    static let documentFields = ["apiVersion", "kind", "metadata", "spec"]
    /// Fields Kubernetes writes itself; present in objects exported from a cluster.
    static let serverFields = ["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                               "deletionGracePeriodSeconds", "managedFields", "ownerReferences", "finalizers", "selfLink"]

    var name: String
    var namespace: String?
    /// Which of the object's annotations its reader uses; the rest are noted as ignored.
    enum AnnotationUse {
        case keys([String])
        /// All of them (an InferenceService, where KServe reads the object's own annotations).
        case all

        func uses(_ key: String) -> Bool {
            switch self {
            case .keys(let keys): keys.contains(key)
            case .all: true
            }
        }
    }

    /// The object's annotations that its reader uses.
    var annotations: [String: String] = [:]
    var annotationSources: [String: SourceLine] = [:]

    init(_ document: FieldReader, example: String, usedAnnotations: AnnotationUse = .keys([]), notes: inout [ConfigError]) throws {
        guard let metadata = try document.object("metadata") else {
            throw document.error("missing field \"metadata\" with metadata.name (a name such as \(example))")
        }
        try metadata.rejectUnknown(allowed: ["name", "namespace", "labels", "annotations"] + Self.serverFields)
        let all = try metadata.stringMap("annotations") ?? [:]
        for (key, value) in all where usedAnnotations.uses(key) {
            annotations[key] = value
            annotationSources[key] = metadata.source(of: "annotations.\(key)")
        }
        let ignored = ["labels"] + (all.keys.contains { !usedAnnotations.uses($0) } ? ["annotations"] : [])
        var except = ""
        if case .keys(let keys) = usedAnnotations, !keys.isEmpty { except = " (except \(keys.joined(separator: " and ")))" }
        metadata.noteIgnored(ignored, because: "the object's own labels and annotations have no effect\(except); autoscaling annotations belong in a predictor's or transformer's template.metadata.annotations", notes: &notes)
        metadata.noteIgnored(Self.serverFields, because: "Kubernetes sets it", notes: &notes)
        name = try metadata.dnsLabel("name", example: example)
        if metadata.has("namespace") {
            namespace = try metadata.dnsLabel("namespace", example: "demo")
        }
    }
}
