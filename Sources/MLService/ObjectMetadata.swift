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

    init(_ document: FieldReader, example: String, notes: inout [ConfigError]) throws {
        guard let metadata = try document.object("metadata") else {
            throw document.error("missing field \"metadata\" with metadata.name (a name such as \(example))")
        }
        try metadata.rejectUnknown(allowed: ["name", "namespace", "labels", "annotations"] + Self.serverFields)
        metadata.noteIgnored(["labels", "annotations"], because: "the object's own labels and annotations have no effect; autoscaling annotations belong in a predictor's or transformer's template.metadata.annotations", notes: &notes)
        metadata.noteIgnored(Self.serverFields, because: "Kubernetes sets it", notes: &notes)
        name = try metadata.dnsLabel("name", example: example)
        if metadata.has("namespace") {
            namespace = try metadata.dnsLabel("namespace", example: "demo")
        }
    }
}
