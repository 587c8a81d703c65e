import Foundation
import KubernetesTargets
import MLService
import ScalingPolicy
import ThawVocabulary

/// An MLService file as the Kubernetes objects Thaw runs it as on a cluster (`thaw render`), so the
/// file `thaw up` runs locally is the one deployed: per release predictor and per transformer a
/// Deployment (the model server's container rendered from its runtime's template, the `thaw-queue`
/// sidecar in front, the autoscaling annotations, the labels Thaw groups targets by), and per
/// service an ExternalName Service that brings a client to the activator and carries the split.
///
/// Pure: the objects are values; the caller writes them out.
public struct ClusterRender {
    public struct Options: Sendable {
        public var namespace = "default"
        /// Thaw's image, for the sidecar.
        public var image = "ghcr.io/thaw-dev/thaw:0.2.0"
        public var autoscalerURL = "http://thaw-autoscaler.thaw-system.svc.cluster.local:8090"
        /// Where the services' names lead: the activator's Service (port 80), as `manifests/` installs it.
        public var activatorHost = "thaw-activator.thaw-system.svc.cluster.local"
        public var clusterDomain = "cluster.local"
        public init() {}
    }

    /// The model server's port in its pod (`{{.PORT}}` and `$PORT`), and the sidecar's.
    public static let modelPort = 8080
    public static let queuePort = 8012
    public static let queueAdminPort = 9091

    public struct RenderError: Error, CustomStringConvertible {
        public var description: String
    }

    let options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Every object, in the order `kubectl apply` should create them.
    public func objects(_ file: MLServiceFile) throws -> [[String: Any]] {
        var objects: [[String: Any]] = []
        for service in file.services {
            let predictorHost = service.transformer == nil ? nil : "\(service.name)-predictor.\(options.namespace).svc.\(options.clusterDomain)"
            for release in service.releases {
                objects.append(try deployment(service: service.name, release: release.name, component: release.predictor,
                                              role: "predictor", modelPath: release.modelPath, predictorHost: nil,
                                              modelName: release.modelName(service: service.name),
                                              describe: "MLService \(service.name), release \(release.name) predictor"))
            }
            if let transformer = service.transformer {
                objects.append(try deployment(service: service.name, release: "transformer", component: transformer, role: "transformer",
                                              modelPath: nil, predictorHost: predictorHost, modelName: service.name,
                                              describe: "MLService \(service.name), transformer"))
            }
            var split = [ClusterState.defaultReleaseKey: service.defaultRelease]
            if let canary = service.canary {
                split[ClusterState.canaryReleaseKey] = canary
                split[ClusterState.canaryPercentKey] = String(service.canaryTrafficPercent)
            }
            if let mirror = service.mirror {
                split[ClusterState.mirrorReleaseKey] = mirror
                split[ClusterState.mirrorPercentKey] = String(service.mirrorPercent)
            }
            objects.append(externalName(service.name, annotations: split))
            if service.transformer != nil {
                // The transformer's PREDICTOR_HOST: through the activator too, where the split applies.
                objects.append(externalName("\(service.name)-predictor", annotations: [:]))
            }
        }
        return objects
    }

    /// The objects as one `v1 List`, pretty JSON with sorted keys (valid YAML, and the same bytes
    /// for the same file, so a diff shows what changed).
    public func list(_ file: MLServiceFile) throws -> String {
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": try objects(file)]
        let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// - Parameter modelName: the model in its payload events' `ce-model`, as `thaw up` names it.
    private func deployment(service: String, release: String, component: ComponentSpec, role: String, modelPath: String?,
                            predictorHost: String?, modelName: String, describe: String) throws -> [String: Any] {
        let name = "\(service)-\(release)"
        guard name.utf8.count <= 63 else {
            throw RenderError(description: "\(describe): the Deployment would be named \(name), longer than Kubernetes' 63 characters; shorten the service or release name")
        }
        guard let image = component.image, !image.isEmpty else {
            throw RenderError(description: "\(describe): no image; set spec.template.spec.containers[0].image in its runtime or its own template (thaw render runs containers, not local processes)")
        }
        // The model path as the file gives it, relative to the working directory, where the image (or
        // a volume) is expected to hold it; the local absolute path means nothing in a container.
        var process = component.process
        if let modelPath {
            let base = process.workingDirectory.hasSuffix("/") ? process.workingDirectory : process.workingDirectory + "/"
            process.parameters["MODEL_PATH"] = modelPath.hasPrefix(base) ? String(modelPath.dropFirst(base.count)) : modelPath
        }
        let command = try process.render(extra: ComponentSpec.replicaParameters(port: Self.modelPort, predictorHost: predictorHost))
        let labels = ["serving.thaw.dev/service": service, "serving.thaw.dev/release": release, "serving.thaw.dev/component": role]
        var annotations = component.annotations
        annotations[AnnotationKeys.class.name] = AnnotationKeys.thawClass
        if let minimum = component.minReplicas { annotations[AnnotationKeys.minScale.name] = String(minimum) }
        if let maximum = component.maxReplicas { annotations[AnnotationKeys.maxScale.name] = String(maximum) }
        if let concurrency = component.containerConcurrency { annotations[WorkloadTarget.containerConcurrencyKey] = String(concurrency) }
        guard let replicaProtocol = component.replicaProtocol else {
            throw RenderError(description: "\(describe): annotation \(ComponentSpec.protocolKey) must be \(ReplicaProtocol.accepted), got \"\(component.annotations[ComponentSpec.protocolKey] ?? "")\"")
        }
        let readinessPath = component.effectiveReadinessPath
        annotations[WorkloadTarget.readinessPathKey] = readinessPath
        annotations[WorkloadTarget.queuePortKey] = String(Self.queuePort)
        // Started at the initial scale Knative would give it: initial-scale, else 1 (min-scale above wins).
        let initial = annotations[AnnotationKeys.initialScale.name].flatMap(Int.init) ?? 1
        let replicas = max(initial, component.minReplicas ?? 0)

        // A gRPC model server is checked by the kubelet's own gRPC probe (the health protocol);
        // its sidecar calls the readiness method itself.
        var probe: [String: Any] = replicaProtocol == .h2c ? ["grpc": ["port": Self.modelPort]]
            : ["httpGet": ["path": readinessPath, "port": Self.modelPort]]
        if let timing = component.readinessTiming {
            probe["initialDelaySeconds"] = Int(timing.initialDelay.components.seconds)
            probe["periodSeconds"] = Int(timing.period.components.seconds)
            probe["timeoutSeconds"] = Int(timing.timeout.components.seconds)
            probe["failureThreshold"] = timing.failureThreshold
        }
        let model: [String: Any] = [
            "name": "model", "image": image, "command": [command.executable], "args": command.arguments,
            "env": command.environment.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "ports": [["name": "http", "containerPort": Self.modelPort]],
            "readinessProbe": probe,
        ]
        var queueArguments = ["--host=0.0.0.0", "--port=\(Self.queuePort)", "--admin-port=\(Self.queueAdminPort)"]
        if let concurrency = component.containerConcurrency { queueArguments.append("--container-concurrency=\(concurrency)") }
        let queue: [String: Any] = [
            "name": "thaw-queue", "image": options.image, "command": ["thaw-queue"], "args": queueArguments,
            "env": [
                ["name": "THAW_TARGET", "value": "\(options.namespace)/\(name)"],
                ["name": "POD_NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
                ["name": "THAW_UPSTREAM", "value": "127.0.0.1:\(Self.modelPort)"],
                ["name": "THAW_READINESS_PATH", "value": readinessPath],
                ["name": "THAW_PROTOCOL", "value": replicaProtocol.rawValue],
                ["name": "THAW_AUTOSCALER_URL", "value": options.autoscalerURL],
            ] + (component.logger.map { logger in [
                ["name": "THAW_LOGGER_URL", "value": logger.url], ["name": "THAW_LOGGER_MODE", "value": logger.mode],
                ["name": "THAW_SERVICE", "value": service], ["name": "THAW_RELEASE", "value": release],
                ["name": "THAW_MODEL", "value": modelName], ["name": "THAW_COMPONENT", "value": role],
            ] } ?? []),
            "ports": [["name": "queue", "containerPort": Self.queuePort], ["name": "queue-admin", "containerPort": Self.queueAdminPort]],
            "readinessProbe": ["httpGet": ["path": "/readyz", "port": Self.queueAdminPort], "periodSeconds": 2],
            "securityContext": ["allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                                "runAsUser": 65532, "capabilities": ["drop": ["ALL"]]],
        ]
        var spec: [String: Any] = [
            "replicas": replicas,
            "selector": ["matchLabels": labels],
            "template": [
                "metadata": ["labels": labels, "annotations": annotations],
                "spec": [
                    "containers": [model, queue],
                    // The sidecar drains for up to 30 s on SIGTERM.
                    "terminationGracePeriodSeconds": 45,
                ] as [String: Any],
            ] as [String: Any],
        ]
        if let text = annotations[WorkloadTarget.progressDeadlineKey], let deadline = GoDuration.parse(text) {
            spec["progressDeadlineSeconds"] = Int(deadline.components.seconds)
        }
        return ["apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": ["name": name, "namespace": options.namespace, "labels": labels.merging(["app.kubernetes.io/managed-by": "thaw-render"]) { $1 }],
                "spec": spec]
    }

    private func externalName(_ name: String, annotations: [String: String]) -> [String: Any] {
        var metadata: [String: Any] = ["name": name, "namespace": options.namespace, "labels": ["app.kubernetes.io/managed-by": "thaw-render"]]
        if !annotations.isEmpty { metadata["annotations"] = annotations }
        return ["apiVersion": "v1", "kind": "Service", "metadata": metadata,
                "spec": ["type": "ExternalName", "externalName": options.activatorHost, "ports": [["name": "http", "port": 80]]] as [String: Any]]
    }
}
