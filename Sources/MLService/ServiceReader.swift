import ConfigFields
import ThawVocabulary

/// Reads one MLService document into an `MLServiceSpec`, resolving the runtimes its predictors name
/// against those declared in the same file.
struct ServiceReader: Sendable {
    static let ignoredSpecFields = ["scheduler"]
    static let ignoredComponentFields = ["containersResources", "resources", "scheduler"]
    static let ignoredReason = "replicas run as local processes, without a scheduler or resource limits"

    let runtimes: [String: RuntimeSpec]
    let baseDirectory: String
    /// The document's kind, in the names of its components' processes.
    var kindLabel = "MLService"
    /// `spec.logger`: the logger of every component that sets none of its own.
    var defaultLogger: PayloadLoggerSpec?
    /// Warnings for fields that have no effect locally, without the document's location.
    var notes: [ConfigError] = []

    init(runtimes: [String: RuntimeSpec], baseDirectory: String) {
        self.runtimes = runtimes
        self.baseDirectory = baseDirectory
    }

    mutating func read(_ document: FieldReader) throws -> MLServiceSpec {
        try document.accept(used: ObjectMetadata.documentFields, ignored: ["status"], because: "Kubernetes writes it", notes: &notes)
        let metadata = try ObjectMetadata(document, example: "digits", usedAnnotations: .keys([MLServiceSpec.mirrorReleaseKey, MLServiceSpec.mirrorPercentKey]),
                                          notes: &notes)
        guard let spec = try document.object("spec") else {
            throw document.error("missing field \"spec\" (with spec.default and spec.releases)")
        }
        defaultLogger = try spec.payloadLogger()
        try spec.accept(used: ["default", "canary", "canaryTrafficPercent", "releases", "transformer", "logger"],
                        ignored: Self.ignoredSpecFields, because: Self.ignoredReason, notes: &notes)
        guard let releaseReaders = try spec.objectList("releases"), !releaseReaders.isEmpty else {
            throw spec.error("missing field \(spec.quoted("releases")): list at least one release, each with a name and a predictor")
        }
        var releases: [ReleaseSpec] = []
        for reader in releaseReaders {
            let release = try read(release: reader, service: metadata.name)
            if releases.contains(where: { $0.name == release.name }) {
                throw reader.error("field \(reader.quoted("name")): release \"\(release.name)\" is declared twice; release names must be unique within a service", at: "name")
            }
            releases.append(release)
        }
        let names = releases.map(\.name).joined(separator: ", ")
        guard let defaultRelease = try spec.string("default"), !defaultRelease.isEmpty else {
            throw spec.error("missing field \(spec.quoted("default")): name the release that serves requests (one of: \(names))")
        }
        guard releases.contains(where: { $0.name == defaultRelease }) else {
            throw spec.error("field \(spec.quoted("default")): \"\(defaultRelease)\" is not a release; name one of: \(names)", at: "default")
        }
        let canary = try spec.string("canary")
        if let canary {
            guard releases.contains(where: { $0.name == canary }) else {
                throw spec.error("field \(spec.quoted("canary")): \"\(canary)\" is not a release; name one of: \(names)", at: "canary")
            }
            guard canary != defaultRelease else {
                throw spec.error("field \(spec.quoted("canary")): \"\(canary)\" is also the default release; the canary must be another release, or remove \(spec.quoted("canary"))", at: "canary")
            }
        }
        var percent = 0
        if let value = try spec.number("canaryTrafficPercent") {
            guard value.rounded() == value, (0...100).contains(value) else {
                throw spec.error("field \(spec.quoted("canaryTrafficPercent")) must be a whole number from 0 to 100, got \(NumberText.plain(value))", at: "canaryTrafficPercent")
            }
            guard canary != nil else {
                throw spec.error("field \(spec.quoted("canaryTrafficPercent")) is set but \(spec.quoted("canary")) is not; name the canary release or remove the percentage", at: "canaryTrafficPercent")
            }
            percent = Int(value)
        } else if let canary {
            notes.append(spec.error("field \(spec.quoted("canary")) names \"\(canary)\" but \(spec.quoted("canaryTrafficPercent")) is not set, so the canary gets 0 % of the traffic; set canaryTrafficPercent (1 to 100)", at: "canary"))
        }
        var transformer: ComponentSpec?
        if let reader = try spec.object("transformer") {
            transformer = try read(transformer: reader, service: metadata.name)
        }
        var service = MLServiceSpec(name: metadata.name, namespace: metadata.namespace, defaultRelease: defaultRelease,
                                    canary: canary, canaryTrafficPercent: percent, releases: releases, transformer: transformer)
        try readMirror(metadata, into: &service, names: names)
        return service
    }

    /// The mirror annotations: a release other than the default, and a whole percentage.
    private func readMirror(_ metadata: ObjectMetadata, into service: inout MLServiceSpec, names: String) throws {
        let releaseKey = MLServiceSpec.mirrorReleaseKey, percentKey = MLServiceSpec.mirrorPercentKey
        let mirror = metadata.annotations[releaseKey]
        if let mirror {
            guard service.release(named: mirror) != nil else {
                throw metadata.annotationSources[releaseKey]!.error("annotation \(releaseKey): \"\(mirror)\" is not a release; name one of: \(names)")
            }
            guard mirror != service.defaultRelease else {
                throw metadata.annotationSources[releaseKey]!.error("annotation \(releaseKey): \"\(mirror)\" is the default release, which gets every request already; mirror to another release")
            }
        }
        if let text = metadata.annotations[percentKey] {
            guard let percent = Int(text), (0...100).contains(percent) else {
                throw metadata.annotationSources[percentKey]!.error("annotation \(percentKey) must be a whole number from 0 to 100, got \"\(text)\"")
            }
            guard mirror != nil else {
                throw metadata.annotationSources[percentKey]!.error("annotation \(percentKey) is set but \(releaseKey) is not; name the release that gets the copies")
            }
            service.mirrorPercent = percent
        } else if mirror != nil {
            throw metadata.annotationSources[releaseKey]!.error("annotation \(releaseKey) is set but \(percentKey) is not; say what share of requests (1 to 100) is copied")
        }
        service.mirror = mirror
    }

    private mutating func read(release reader: FieldReader, service: String) throws -> ReleaseSpec {
        try reader.rejectUnknown(allowed: ["name", "predictor"])
        let name = try reader.dnsLabel("name", example: "v1")
        guard let predictor = try reader.object("predictor") else {
            throw reader.error("missing field \(reader.quoted("predictor")) (with model.runtime, or template.spec.containers[0].command)")
        }
        try predictor.accept(used: ["minReplicas", "maxReplicas", "model", "template", "logger"], ignored: Self.ignoredComponentFields,
                             because: Self.ignoredReason, notes: &notes)
        let model = try predictor.object("model").map { try ModelReference($0, baseDirectory: baseDirectory) }
        let template = try predictor.object("template").map {
            try PodTemplate($0, allowsConcurrency: true, baseDirectory: baseDirectory, notes: &notes)
        } ?? PodTemplate()
        let (minReplicas, maxReplicas) = try replicas(predictor)
        var release = try release(name, service: service, model: model, template: template, minReplicas: minReplicas, maxReplicas: maxReplicas,
                                  at: predictor)
        release.predictor.logger = try predictor.payloadLogger() ?? defaultLogger
        return release
    }

    /// A predictor from what its document says: the model (its runtime, or the format that chooses
    /// one), and its own pod template, whose container and annotations win over the runtime's.
    /// `extraArgs` and `extraEnv` come after the runtime's (KServe's `model.args` and `model.env`).
    mutating func release(_ name: String, service: String, model: ModelReference?, template: PodTemplate, minReplicas: Int?,
                          maxReplicas: Int?, extraArgs: [String] = [], extraEnv: [EnvVar] = [], at predictor: FieldReader) throws -> ReleaseSpec {
        let own = template.containers.first ?? ContainerSpec()
        var container = own
        var annotations = template.annotations
        var annotationSources = template.annotationSources
        var runtimeName = model?.runtime
        if runtimeName == nil, let format = model?.format {
            switch RuntimeSelection.choose(format, protocolVersion: model?.protocolVersion, among: runtimes.values.sorted { $0.name < $1.name }) {
            case .chosen(let name): runtimeName = name
            case .refused(let reason): throw predictor.error("field \(predictor.quoted("model.modelFormat")): \(reason)", at: "model.modelFormat")
            }
        }
        if let runtimeName {
            let runtime = try resolve(runtimeName, at: predictor)
            if let format = model?.format, !runtime.supportedModelFormats.isEmpty,
               !runtime.supportedModelFormats.contains(where: { $0.supports(format) }) {
                let listed = runtime.supportedModelFormats.map { $0.name + ($0.version.map { " " + $0 } ?? "") }.joined(separator: ", ")
                throw predictor.error("field \(predictor.quoted("model.runtime")): \(runtime.kind) \"\(runtimeName)\" does not list model format \(format) (it supports: \(listed)); choose a runtime that does, or drop model.runtime to have one chosen by the format", at: "model.runtime")
            }
            container.command = own.command.isEmpty ? runtime.container.command : own.command
            container.args = (own.args.isEmpty ? runtime.container.args : own.args) + extraArgs
            container.env = EnvVar.merge(EnvVar.merge(runtime.container.env, own.env), extraEnv)
            container.workingDirectory = own.workingDirectory ?? runtime.container.workingDirectory
            container.readinessPath = own.readinessPath ?? runtime.container.readinessPath
            container.readinessTiming = own.readinessTiming ?? runtime.container.readinessTiming
            container.image = own.image ?? runtime.container.image
            annotations = runtime.annotations.merging(template.annotations) { _, own in own }
            annotationSources = runtime.annotationSources.merging(template.annotationSources) { _, own in own }
        }
        if container.command.isEmpty, let runtimeName {
            // The seeds' style: args only, the image's entrypoint being the program. Local mode runs
            // no images, so the runtime, not the release, is what to fix.
            let argsOnly = container.args.isEmpty ? "" : " (its containers[0] sets only args, for an image's entrypoint)"
            throw predictor.error("field \(predictor.quoted("model.runtime")): MLServiceRuntime \"\(runtimeName)\" has no command\(argsOnly); local mode runs the model server as a process on this machine, with no image entrypoint, so set spec.template.spec.containers[0].command in the runtime to the program to run (e.g. [\"python\", \"-m\", \"server\"]), or set \(predictor.quoted("template.spec.containers[0].command"))", at: "model.runtime")
        }
        guard !container.command.isEmpty else {
            throw predictor.error("\(predictor.quotedPath) has no command to run; set \(predictor.quoted("model.runtime")) to an MLServiceRuntime in this file, or set \(predictor.quoted("template.spec.containers[0].command"))")
        }
        var parameters = model?.parameters ?? [:]
        if let path = model?.path, parameters["MODEL_PATH"] == nil { parameters["MODEL_PATH"] = path }
        // KServe's runtimes name the InferenceService as {{.Name}} (`--model_name={{.Name}}`).
        if let runtimeName, runtimes[runtimeName]?.kind != "MLServiceRuntime", parameters["Name"] == nil { parameters["Name"] = service }
        var component = ComponentSpec(
            minReplicas: minReplicas, maxReplicas: maxReplicas, annotations: annotations,
            containerConcurrency: template.containerConcurrency,
            process: ProcessTemplate(component: "\(kindLabel) \(service), release \(name) predictor", command: container.command,
                                     args: container.args, env: container.env,
                                     workingDirectory: container.workingDirectory ?? baseDirectory, parameters: parameters),
            readinessPath: container.readinessPath, readinessTiming: container.readinessTiming, annotationSources: annotationSources)
        component.image = container.image
        try check(component, "release \(name) predictor", at: predictor, transformer: false)
        return ReleaseSpec(name: name, predictor: component, runtime: runtimeName, modelPath: model?.path)
    }

    private mutating func read(transformer reader: FieldReader, service: String) throws -> ComponentSpec {
        try reader.accept(used: ["minReplicas", "maxReplicas", "template", "logger"], ignored: Self.ignoredComponentFields,
                          because: Self.ignoredReason, notes: &notes)
        let template = try reader.object("template").map {
            try PodTemplate($0, allowsConcurrency: true, baseDirectory: baseDirectory, notes: &notes)
        } ?? PodTemplate()
        let (minReplicas, maxReplicas) = try replicas(reader)
        var component = try transformer(service: service, template: template, minReplicas: minReplicas, maxReplicas: maxReplicas,
                                        commandField: "template.spec.containers[0].command", at: reader)
        component.logger = try reader.payloadLogger() ?? defaultLogger
        return component
    }

    /// A transformer from its pod template's first container.
    mutating func transformer(service: String, template: PodTemplate, minReplicas: Int?, maxReplicas: Int?, commandField: String,
                              at reader: FieldReader) throws -> ComponentSpec {
        guard let container = template.containers.first, !container.command.isEmpty else {
            throw reader.error("\(reader.quotedPath) has no command to run; set \(reader.quoted(commandField)) to the transformer's program")
        }
        let hint = "a transformer has no model.parameters; its templates may use only "
            + ComponentSpec.replicaParameterNames(forTransformer: true).map { "{{.\($0)}}" }.joined(separator: " and ")
        var component = ComponentSpec(
            minReplicas: minReplicas, maxReplicas: maxReplicas, annotations: template.annotations,
            containerConcurrency: template.containerConcurrency,
            process: ProcessTemplate(component: "\(kindLabel) \(service), transformer", command: container.command,
                                     args: container.args, env: container.env,
                                     workingDirectory: container.workingDirectory ?? baseDirectory, missingParameterHint: hint),
            readinessPath: container.readinessPath, readinessTiming: container.readinessTiming, annotationSources: template.annotationSources)
        component.image = container.image
        try check(component, "transformer", at: reader, transformer: true)
        return component
    }

    private func resolve(_ name: String, at predictor: FieldReader) throws -> RuntimeSpec {
        guard let runtime = runtimes[name] else {
            let available = runtimes.isEmpty ? "none is declared" : "declared: " + runtimes.keys.sorted().joined(separator: ", ")
            throw predictor.error("field \(predictor.quoted("model.runtime")): no MLServiceRuntime \"\(name)\" in this file (\(available)); add an MLServiceRuntime document with that name or fix the name", at: "model.runtime")
        }
        guard runtime.enabled else {
            let how = runtime.kind == "MLServiceRuntime" ? "spec.enabled: false" : "spec.disabled: true"
            throw predictor.error("field \(predictor.quoted("model.runtime")): \(runtime.kind) \"\(name)\" is disabled (\(how)); enable it or choose another runtime", at: "model.runtime")
        }
        return runtime
    }

    func replicas(_ reader: FieldReader) throws -> (min: Int?, max: Int?) {
        let minimum = try reader.count("minReplicas")
        let maximum = try reader.count("maxReplicas")
        if let minimum, let maximum, maximum > 0, maximum < minimum {
            throw reader.error("field \(reader.quoted("maxReplicas")) (\(maximum)) is less than \(reader.quoted("minReplicas")) (\(minimum)); raise maxReplicas, lower minReplicas, or set maxReplicas to 0 for no limit", at: "maxReplicas")
        }
        return (minimum, maximum == 0 ? nil : maximum)
    }

    /// Renders the component once with stand-in replica values, so a parameter that is not set fails
    /// when the file is read rather than at the first scale-up. The message names the component
    /// without the service, which the document's label already names.
    private func check(_ component: ComponentSpec, _ label: String, at reader: FieldReader, transformer: Bool) throws {
        let standIns = ComponentSpec.replicaParameters(port: 8080, predictorHost: transformer ? "127.0.0.1:8080" : nil)
        var process = component.process
        process.component = label
        do {
            _ = try process.render(extra: standIns)
        } catch let problem as TemplateError {
            throw reader.error("\(reader.quotedPath): \(problem.message)")
        }
    }
}
