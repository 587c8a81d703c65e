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

extension RuntimeSpec {
    static let kserveAPIVersion = "serving.kserve.io/v1alpha1"
    static let kserveKinds = ["ServingRuntime", "ClusterServingRuntime"]
    /// ServingRuntime fields that place or size pods, meaningless for a local process.
    static let kservePodFields = ["volumes", "nodeSelector", "tolerations", "affinity", "imagePullSecrets", "labels",
                                  "serviceAccountName", "securityContext", "hostIPC", "workerSpec", "replicas", "storageHelper",
                                  "multiModel", "grpcEndpoint", "grpcDataEndpoint", "httpDataEndpoint", "builtInAdapter"]

    /// Reads KServe's ServingRuntime or ClusterServingRuntime (`serving.kserve.io/v1alpha1`):
    /// `spec.containers` (rendered with the same Go templates as an MLServiceRuntime's),
    /// `supportedModelFormats`, `disabled`, `protocolVersions` and the pods' `annotations`.
    init(kserve document: FieldReader, kind: String, baseDirectory: String, notes: inout [ConfigError]) throws {
        try document.accept(used: ObjectMetadata.documentFields, ignored: ["status"], because: "Kubernetes writes it", notes: &notes)
        let name = try ObjectMetadata(document, example: "kserve-sklearnserver", notes: &notes).name
        guard let spec = try document.object("spec") else {
            throw document.error("missing field \"spec\" (with spec.containers naming the model server's command and spec.supportedModelFormats)")
        }
        try spec.accept(used: ["containers", "supportedModelFormats", "disabled", "protocolVersions", "annotations"],
                        ignored: Self.kservePodFields, because: "replicas run as processes on this machine, not as pods", notes: &notes)
        var containers: [ContainerSpec] = []
        for reader in try spec.objectList("containers") ?? [] {
            containers.append(try ContainerSpec(reader, baseDirectory: baseDirectory, notes: &notes))
        }
        guard let container = containers.first else {
            throw spec.error("field \"spec.containers\" must list the model server's container with its command; none is given")
        }
        if containers.count > 1 {
            notes.append(spec.error("field \"spec.containers\" lists \(containers.count) containers; local mode runs only containers[0] and ignores the rest", at: "containers[1]"))
        }
        var formats: [SupportedModelFormat] = []
        for (index, entry) in (try spec.objectList("supportedModelFormats") ?? []).enumerated() {
            try entry.rejectUnknown(allowed: ["name", "version", "autoSelect", "priority"])
            guard let formatName = try entry.string("name"), !formatName.isEmpty else {
                throw entry.error("missing field \(entry.quoted("name")) (the model format, e.g. sklearn)")
            }
            let priority = try entry.count("priority")
            if priority != nil, try entry.bool("autoSelect") != true {
                notes.append(spec.error("field \"spec.supportedModelFormats[\(index)].priority\" has no effect without autoSelect: true", at: "supportedModelFormats[\(index)].priority"))
            }
            formats.append(SupportedModelFormat(name: formatName, version: try entry.text("version"),
                                                autoSelect: try entry.bool("autoSelect") ?? false, priority: priority))
        }
        var annotations = try spec.stringMap("annotations") ?? [:]
        var sources: [String: SourceLine] = [:]
        for key in annotations.keys { sources[key] = spec.source(of: "annotations.\(key)") }
        // A runtime that speaks only gRPC prediction protocols is an h2c target unless it says otherwise.
        let protocols = try spec.stringList("protocolVersions") ?? []
        if !protocols.isEmpty, protocols.allSatisfy({ $0.hasPrefix("grpc") }), annotations[ComponentSpec.protocolKey] == nil {
            annotations[ComponentSpec.protocolKey] = "grpc"
            sources[ComponentSpec.protocolKey] = spec.source(of: "protocolVersions")
        }
        self.init(name: name, enabled: !(try spec.bool("disabled") ?? false), container: container,
                  annotations: annotations, annotationSources: sources)
        self.kind = kind
        supportedModelFormats = formats
        if !protocols.isEmpty { protocolVersions = protocols }
    }
}
