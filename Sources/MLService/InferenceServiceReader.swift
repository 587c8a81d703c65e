import ConfigFields
import ThawVocabulary

/// Reads a KServe InferenceService (`serving.kserve.io/v1beta1`) into the same `MLServiceSpec` an
/// MLService becomes, so a KServe user's file runs under `thaw up` and `thaw render` as written:
/// the predictor is the service's one release (`default`), the transformer its transformer.
///
/// The predictor's `model` names a runtime or a `modelFormat` (auto-selection among the file's
/// ServingRuntimes), `storageUri` is the model path (`file://` locally), `args` and `env` follow the
/// runtime's; a custom predictor's `containers[0]` is its command. `minReplicas`, `maxReplicas`,
/// `containerConcurrency`, `scaleMetric` and `scaleTarget` become the same policy as in an MLService,
/// and the object's own annotations (where KServe reads `autoscaling.knative.dev/*`) apply to both
/// components. What needs a cluster (a canary between revisions, remote storage, pod placement) is
/// a warning.
struct InferenceServiceReader {
    static let apiVersion = "serving.kserve.io/v1beta1"
    static let kind = "InferenceService"
    /// The release name of the predictor (its target is `NAME-default`; `NAME-predictor` is the
    /// host a transformer reaches its predictor by, as in an MLService).
    static let releaseName = "default"
    static let podFields = ["serviceAccountName", "nodeSelector", "tolerations", "affinity", "volumes", "imagePullSecrets",
                            "securityContext", "labels", "resources", "priorityClassName", "schedulerName", "hostIPC",
                            "initContainers", "deploymentStrategy", "batcher", "workerSpec"]
    static let podReason = "replicas run as processes on this machine, not as pods"

    var service: ServiceReader

    init(runtimes: [String: RuntimeSpec], baseDirectory: String) {
        service = ServiceReader(runtimes: runtimes, baseDirectory: baseDirectory)
        service.kindLabel = Self.kind
    }

    var notes: [ConfigError] { service.notes }

    mutating func read(_ document: FieldReader) throws -> MLServiceSpec {
        try document.accept(used: ObjectMetadata.documentFields, ignored: ["status"], because: "Kubernetes writes it", notes: &service.notes)
        // KServe reads autoscaling annotations from the InferenceService itself: all are used.
        let metadata = try ObjectMetadata(document, example: "sklearn-iris", usedAnnotations: .all, notes: &service.notes)
        let (objectAnnotations, objectSources) = (metadata.annotations, metadata.annotationSources)
        guard let spec = try document.object("spec") else {
            throw document.error("missing field \"spec\" (with spec.predictor)")
        }
        try spec.accept(used: ["predictor", "transformer"], ignored: ["explainer"],
                        because: "Thaw runs predictors and transformers, not explainers", notes: &service.notes)
        guard let predictor = try spec.object("predictor") else {
            throw spec.error("missing field \(spec.quoted("predictor")) (with model.modelFormat or model.runtime, or containers[0].command)")
        }
        let release = try read(predictor: predictor, name: metadata.name, objectAnnotations: objectAnnotations, objectSources: objectSources)
        var transformer: ComponentSpec?
        if let reader = try spec.object("transformer") {
            try reader.accept(used: ["minReplicas", "maxReplicas", "containerConcurrency", "containers", "annotations", "scaleMetric",
                                     "scaleTarget", "logger"],
                              ignored: Self.podFields + ["timeout", "canaryTrafficPercent"], because: Self.podReason, notes: &service.notes)
            let template = try podTemplate(reader, objectAnnotations: objectAnnotations, objectSources: objectSources)
            let (minReplicas, maxReplicas) = try service.replicas(reader)
            transformer = try service.transformer(service: metadata.name, template: template, minReplicas: minReplicas, maxReplicas: maxReplicas,
                                                  commandField: "containers[0].command", at: reader)
            transformer?.logger = try reader.payloadLogger()
        }
        return MLServiceSpec(name: metadata.name, namespace: metadata.namespace, defaultRelease: Self.releaseName,
                             releases: [release], transformer: transformer)
    }

    private mutating func read(predictor: FieldReader, name: String, objectAnnotations: [String: String],
                               objectSources: [String: SourceLine]) throws -> ReleaseSpec {
        try predictor.accept(used: ["minReplicas", "maxReplicas", "containerConcurrency", "model", "containers", "annotations",
                                    "scaleMetric", "scaleTarget", "logger", "canaryTrafficPercent"],
                             ignored: Self.podFields + ["timeout"], because: Self.podReason, notes: &service.notes)
        if predictor.has("canaryTrafficPercent") {
            service.notes.append(predictor.error("field \(predictor.quoted("canaryTrafficPercent")) is ignored: KServe splits it between this revision and the one rolled out before, which only a cluster has; for a canary in one file, write an MLService with two releases", at: "canaryTrafficPercent"))
        }
        var template = try podTemplate(predictor, objectAnnotations: objectAnnotations, objectSources: objectSources)
        var model: ModelReference?
        var extraArgs: [String] = []
        var extraEnv: [EnvVar] = []
        if let reader = try predictor.object("model") {
            let modelFields = ["modelFormat", "runtime", "storageUri", "protocolVersion", "runtimeVersion", "storage"]
            if reader.has("storage") {
                service.notes.append(reader.error("field \(reader.quoted("storage")) names a storage secret that KServe's storage initializer reads on a cluster; locally the model server gets no MODEL_PATH from it", at: "storage"))
            }
            let format = try ModelReference.format(reader)
            var path: String?
            if let uri = try reader.string("storageUri") {
                if uri.lowercased().hasPrefix("file://") {
                    path = try ModelReference.localPath(uri, reader: reader, baseDirectory: service.baseDirectory, field: "storageUri")
                } else {
                    service.notes.append(reader.error("field \(reader.quoted("storageUri")): \"\(uri)\" is fetched by KServe's storage initializer on a cluster; locally the model server gets no MODEL_PATH (use file://PATH to give it one)", at: "storageUri"))
                }
            }
            if let version = try reader.string("protocolVersion"), version.hasPrefix("grpc"),
               template.annotations[ComponentSpec.protocolKey] == nil {
                template.annotations[ComponentSpec.protocolKey] = "grpc"
                template.annotationSources[ComponentSpec.protocolKey] = reader.source(of: "protocolVersion")
            }
            // The rest of `model` is a container: its args and env follow the runtime's.
            let containerFields = reader.fields.filter { !modelFields.contains($0.key) }
            let container = try ContainerSpec(FieldReader(fields: containerFields, file: reader.file, line: reader.line, path: reader.path,
                                                          lines: reader.lines),
                                              baseDirectory: service.baseDirectory, notes: &service.notes)
            extraArgs = container.args
            extraEnv = container.env
            if !container.command.isEmpty || container.image != nil {
                // A model with its own command or image is its own container, over the runtime's.
                var own = template.containers.first ?? ContainerSpec()
                if !container.command.isEmpty { own.command = container.command }
                own.image = container.image ?? own.image
                template.containers = [own]
            }
            model = ModelReference(runtime: try reader.string("runtime"), format: format, path: path,
                                   protocolVersion: try reader.string("protocolVersion"))
        }
        let (minReplicas, maxReplicas) = try service.replicas(predictor)
        var release = try service.release(Self.releaseName, service: name, model: model, template: template, minReplicas: minReplicas,
                                          maxReplicas: maxReplicas, extraArgs: extraArgs, extraEnv: extraEnv, at: predictor)
        release.predictor.logger = try predictor.payloadLogger()
        return release
    }

    /// A component's pod template, from KServe's flattened fields: `containers`, `containerConcurrency`,
    /// its `annotations` over the object's, and `scaleMetric` / `scaleTarget` as Knative's annotations.
    private mutating func podTemplate(_ reader: FieldReader, objectAnnotations: [String: String],
                                      objectSources: [String: SourceLine]) throws -> PodTemplate {
        var template = PodTemplate()
        template.annotations = objectAnnotations
        template.annotationSources = objectSources
        let own = try reader.stringMap("annotations") ?? [:]
        for (key, value) in own {
            template.annotations[key] = value
            template.annotationSources[key] = reader.source(of: "annotations.\(key)")
        }
        if let metric = try reader.string("scaleMetric") {
            switch metric {
            case "concurrency", "rps":
                template.annotations["autoscaling.knative.dev/metric"] = metric
                template.annotationSources["autoscaling.knative.dev/metric"] = reader.source(of: "scaleMetric")
            case "cpu", "memory":
                service.notes.append(reader.error("field \(reader.quoted("scaleMetric")): \(metric) is scaled by a HorizontalPodAutoscaler on a cluster; Thaw scales this component on concurrency", at: "scaleMetric"))
            default:
                throw reader.error("field \(reader.quoted("scaleMetric")) must be concurrency, rps, cpu or memory, got \"\(metric)\"", at: "scaleMetric")
            }
        }
        if let target = try reader.number("scaleTarget") {
            template.annotations["autoscaling.knative.dev/target"] = NumberText.plain(target)
            template.annotationSources["autoscaling.knative.dev/target"] = reader.source(of: "scaleTarget")
        }
        if let concurrency = try reader.count("containerConcurrency") {
            guard concurrency <= 1000 else {
                throw reader.error("field \(reader.quoted("containerConcurrency")) must be from 0 to 1000 (0 for no limit), got \(concurrency)", at: "containerConcurrency")
            }
            template.containerConcurrency = concurrency
        }
        for container in try reader.objectList("containers") ?? [] {
            template.containers.append(try ContainerSpec(container, baseDirectory: service.baseDirectory, notes: &service.notes))
        }
        return template
    }
}
