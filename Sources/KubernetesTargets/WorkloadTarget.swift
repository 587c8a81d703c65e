import Foundation
import ScalingPolicy
import ThawVocabulary

/// A Deployment or StatefulSet that Thaw scales, read from its JSON: which service, release and
/// component it is, and the policy its Pod template's annotations set.
///
/// Opting in is the Pod template's `autoscaling.knative.dev/class: kpa.thaw.dev`; every other key
/// is read exactly as in local mode. The workload's labels say what it is:
/// `serving.thaw.dev/service` (default: the workload's name), `serving.thaw.dev/release` (default:
/// the workload's name) and `serving.thaw.dev/component` (`predictor`, the default, or `transformer`).
public struct WorkloadTarget: Sendable, Equatable {
    public enum Component: String, Sendable, Equatable { case predictor, transformer }

    /// `namespace/name`: what stats, pokes and `/status` call the target.
    public var name: String
    public var namespace: String
    public var kind: String
    public var workload: String
    public var service: String
    public var release: String
    public var component: Component
    public var policy: TargetPolicy
    public var containerConcurrency: Int
    /// The path the activator probes: `serving.thaw.dev/readiness-path`, else the first container's
    /// HTTP readiness probe, else KServe's `/v2/health/ready`.
    public var readinessPath: String
    /// `spec.replicas` now (Kubernetes' default of 1 when unset).
    public var replicas: Int
    public var uid: String?
    /// The workload's `spec.selector.matchLabels`: its pods are the ones with all of these labels.
    public var selector: [String: String]
    /// The port of the pod's `thaw-queue` sidecar, which the activator sends requests to.
    public var queuePort: Int
    /// Why the workload cannot roll out (the Deployment's ProgressDeadlineExceeded), while that lasts.
    public var rolloutFailure: String?
    /// `serving.knative.dev/progress-deadline` in seconds: how long a started pod may stay not ready
    /// before the target is failed, when none is ready. Nil: the Deployment's own
    /// `progressDeadlineSeconds` (600 by default) is what fails it.
    public var progressDeadline: Double?
    /// What the model server speaks (`serving.thaw.dev/protocol`); for `h2c` the readiness path
    /// names a gRPC method, by default the health protocol's.
    public var `protocol`: ReplicaProtocol = .http1

    public static let serviceLabel = "serving.thaw.dev/service"
    public static let releaseLabel = "serving.thaw.dev/release"
    public static let componentLabel = "serving.thaw.dev/component"
    public static let containerConcurrencyKey = "serving.thaw.dev/container-concurrency"
    public static let readinessPathKey = "serving.thaw.dev/readiness-path"
    /// `grpc` (or `h2c`): the model server speaks HTTP/2 with prior knowledge.
    public static let protocolKey = "serving.thaw.dev/protocol"
    public static let defaultReadinessPath = "/v2/health/ready"
    public static let queuePortKey = "serving.thaw.dev/queue-port"
    public static let progressDeadlineKey = "serving.knative.dev/progress-deadline"
    /// Knative's queue-proxy port, so a pod spec written for it needs no change.
    public static let defaultQueuePort = 8012

    /// What reading one workload found.
    public enum Reading: Sendable, Equatable {
        /// Not Thaw's: no `kpa.thaw.dev` class on its Pod template. Left alone.
        case notManaged
        case managed(WorkloadTarget)
        /// Thaw's, but its policy or labels are wrong: the workload keeps its scale, and the reason is
        /// what its Kubernetes Event and the log say.
        case invalid(namespace: String, workload: String, reason: String)
    }

    /// Reads a Deployment's or StatefulSet's JSON; see `read(_:kind:config:)`.
    public static func read(_ json: [UInt8], kind: String, config: AutoscalerConfig = AutoscalerConfig()) -> Reading {
        guard let object = try? JSONDecoder().decode(WorkloadObject.self, from: Data(json)) else { return .notManaged }
        return read(object, kind: kind, config: config)
    }

    /// Reads a Deployment or StatefulSet. `kind` is the collection's: items of a list carry no kind
    /// of their own (watch events do, and then theirs is used).
    public static func read(_ object: WorkloadObject, kind: String, config: AutoscalerConfig = AutoscalerConfig()) -> Reading {
        let template = object.spec?.template?.metadata?.annotations ?? [:]
        guard template[AnnotationKeys.class.name] == AnnotationKeys.thawClass else { return .notManaged }
        let namespace = object.metadata.namespace ?? "default"
        let name = object.metadata.name
        func invalid(_ reason: String) -> Reading { .invalid(namespace: namespace, workload: name, reason: reason) }
        let labels = object.metadata.labels ?? [:]
        guard let component = Component(rawValue: labels[componentLabel] ?? "predictor") else {
            return invalid("label \(componentLabel): \"\(labels[componentLabel] ?? "")\" must be predictor or transformer")
        }
        var containerConcurrency = 0
        if let text = template[containerConcurrencyKey] {
            guard let value = Int(text), value >= 0 else {
                return invalid("annotation \(containerConcurrencyKey): \"\(text)\" must be a whole number from 0 (no limit) up")
            }
            containerConcurrency = value
        }
        var replicaProtocol = ReplicaProtocol.http1
        if let text = template[protocolKey] {
            guard let value = ReplicaProtocol(field: text) else {
                return invalid("annotation \(protocolKey): \"\(text)\" must be \(ReplicaProtocol.accepted)")
            }
            replicaProtocol = value
        }
        let probe = object.spec?.template?.spec?.containers?.first?.readinessProbe?.httpGet?.path
        // A gRPC server's httpGet probe path is no gRPC method: the health protocol's is the default.
        let readinessPath = template[readinessPathKey]
            ?? (replicaProtocol == .h2c ? "/grpc.health.v1.Health/Check" : probe ?? defaultReadinessPath)
        guard readinessPath.hasPrefix("/") else {
            return invalid("annotation \(readinessPathKey): \"\(readinessPath)\" must be a path starting with /")
        }
        var queuePort = defaultQueuePort
        if let text = template[queuePortKey] {
            guard let port = Int(text), (1...65535).contains(port) else {
                return invalid("annotation \(queuePortKey): \"\(text)\" must be a port from 1 to 65535 (the thaw-queue sidecar's)")
            }
            queuePort = port
        }
        var progressDeadline: Double?
        if let text = template[progressDeadlineKey] {
            guard let deadline = GoDuration.parse(text), deadline >= .seconds(1), deadline <= .seconds(86_400) else {
                return invalid("annotation \(progressDeadlineKey): \"\(text)\" must be a duration from 1s to 24h, e.g. \"10m\"")
            }
            progressDeadline = Double(deadline.components.seconds)
        }
        let selector = object.spec?.selector?.matchLabels ?? [:]
        guard !selector.isEmpty else {
            return invalid("spec.selector.matchLabels is empty: Thaw finds a workload's pods by those labels")
        }
        let policy: TargetPolicy
        do {
            policy = try TargetPolicy(annotations: template, config: config, containerConcurrency: containerConcurrency)
        } catch {
            return invalid("\(error)")
        }
        return .managed(WorkloadTarget(
            name: "\(namespace)/\(name)", namespace: namespace, kind: object.kind ?? kind, workload: name,
            service: labels[serviceLabel] ?? name, release: labels[releaseLabel] ?? name, component: component, policy: policy,
            containerConcurrency: containerConcurrency, readinessPath: readinessPath, replicas: object.spec?.replicas ?? 1,
            uid: object.metadata.uid, selector: selector, queuePort: queuePort, rolloutFailure: rolloutFailure(object),
            progressDeadline: progressDeadline, protocol: replicaProtocol))
    }

    /// A Deployment whose rollout is past its progress deadline will not come up by waiting.
    static func rolloutFailure(_ object: WorkloadObject) -> String? {
        guard let condition = object.status?.conditions?.first(where: { $0.type == "Progressing" }),
              condition.status == "False", condition.reason == "ProgressDeadlineExceeded" else { return nil }
        return "\(object.kind ?? "Deployment") \(object.metadata.name): ProgressDeadlineExceeded: \(condition.message ?? "")"
    }
}
