import ConfigFields

extension RuntimeSpec {
    /// Reads an MLServiceRuntime document's `metadata` and `spec`.
    init(_ document: FieldReader, baseDirectory: String, notes: inout [ConfigError]) throws {
        try document.accept(used: ObjectMetadata.documentFields, ignored: ["status"], because: "Kubernetes writes it", notes: &notes)
        let name = try ObjectMetadata(document, example: "digits-runtime", notes: &notes).name
        guard let spec = try document.object("spec") else {
            throw document.error("missing field \"spec\" (with spec.template.spec.containers naming the model server's command)")
        }
        try spec.rejectUnknown(allowed: ["enabled", "template"])
        guard let templateReader = try spec.object("template") else {
            throw spec.error("missing field \(spec.quoted("template")) (a pod template whose spec.containers[0] runs the model server)")
        }
        let template = try PodTemplate(templateReader, allowsConcurrency: false, baseDirectory: baseDirectory, notes: &notes)
        guard let container = template.containers.first else {
            throw spec.error("field \"spec.template.spec.containers\" must list the model server's container with its command; none is given")
        }
        self.init(name: name, enabled: try spec.bool("enabled") ?? true, container: container,
                  annotations: template.annotations, annotationSources: template.annotationSources)
    }
}
