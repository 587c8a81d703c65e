import Foundation
import ScalingPolicy

/// A Deployment or StatefulSet that Thaw scales, read from its JSON: which service, release and
/// component it is, and the policy its Pod template's annotations set.
///
/// Opting in is the Pod template's `autoscaling.knative.dev/class: kpa.thaw.dev`; every other key
/// is read exactly as in local mode. The workload's labels say what it is:
/// `serving.thaw.dev/service` (default: the workload's name), `serving.thaw.dev/release` (default:
/// the workload's name) and `serving.thaw.dev/component` (`predictor`, the default, or `transformer`).
public struct WorkloadTarget: Sendable {
    public enum Component: String, Sendable { case predictor, transformer }

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

    public static let serviceLabel = "serving.thaw.dev/service"
    public static let releaseLabel = "serving.thaw.dev/release"
    public static let componentLabel = "serving.thaw.dev/component"
    public static let containerConcurrencyKey = "serving.thaw.dev/container-concurrency"
    public static let readinessPathKey = "serving.thaw.dev/readiness-path"
    public static let defaultReadinessPath = "/v2/health/ready"

    /// What reading one workload found.
    public enum Reading: Sendable {
        /// Not Thaw's: no `kpa.thaw.dev` class on its Pod template. Left alone.
        case notManaged
        case managed(WorkloadTarget)
        /// Thaw's, but its policy or labels are wrong: the workload keeps its scale, and the reason is
        /// what its Kubernetes Event and the log say.
        case invalid(namespace: String, workload: String, reason: String)
    }

    /// Reads a Deployment's or StatefulSet's JSON. `kind` is the collection's: items of a list carry
    /// no kind of their own (watch events do, and then theirs is used).
    public static func read(_ json: [UInt8], kind: String, config: AutoscalerConfig = AutoscalerConfig()) -> Reading {
        guard let object = try? JSONDecoder().decode(Workload.self, from: Data(json)) else { return .notManaged }
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
        let probe = object.spec?.template?.spec?.containers?.first?.readinessProbe?.httpGet?.path
        let readinessPath = template[readinessPathKey] ?? probe ?? defaultReadinessPath
        guard readinessPath.hasPrefix("/") else {
            return invalid("annotation \(readinessPathKey): \"\(readinessPath)\" must be a path starting with /")
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
            containerConcurrency: containerConcurrency, readinessPath: readinessPath, replicas: object.spec?.replicas ?? 1))
    }

    /// The fields read, and nothing else: a workload carries far more.
    private struct Workload: Decodable {
        struct Metadata: Decodable {
            var name: String
            var namespace: String?
            var labels: [String: String]?
        }
        struct Spec: Decodable {
            var replicas: Int?
            var template: Template?
        }
        struct Template: Decodable {
            var metadata: TemplateMetadata?
            var spec: PodSpec?
        }
        /// A Pod template's metadata has no name of its own.
        struct TemplateMetadata: Decodable {
            var annotations: [String: String]?
        }
        struct PodSpec: Decodable {
            var containers: [Container]?
        }
        struct Container: Decodable {
            var readinessProbe: Probe?
        }
        struct Probe: Decodable {
            var httpGet: HTTPGet?
        }
        struct HTTPGet: Decodable {
            var path: String?
        }
        var kind: String?
        var metadata: Metadata
        var spec: Spec?
    }
}
