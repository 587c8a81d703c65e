import ScaleTargets
import ScalingPolicy
import ThawVocabulary

/// What Thaw knows of a cluster, kept as the watches report it, and what follows from it: which
/// workloads are targets and with what policy, each target's endpoints, and the activator's routes.
///
/// Pure: the driver feeds it the objects its watches decode and asks for a `ClusterView`. Each object
/// is read once when it changes (a policy is parsed once per edit, not once per view), so a view of
/// 10,000 workloads and 30,000 pods is a pass over small values.
public struct ClusterState: Sendable {
    /// The Kubernetes kinds Thaw scales, and the collections they are listed from.
    public enum WorkloadKind: String, Sendable, CaseIterable {
        case deployment = "Deployment"
        case statefulSet = "StatefulSet"

        public var collection: String { self == .deployment ? "deployments" : "statefulsets" }
    }

    /// The annotations on a service's own core/v1 Service object that split its traffic.
    public static let defaultReleaseKey = "serving.thaw.dev/default-release"
    public static let canaryReleaseKey = "serving.thaw.dev/canary-release"
    public static let canaryPercentKey = "serving.thaw.dev/canary-traffic-percent"

    /// A pod, as much as a target's state needs.
    struct PodReading: Sendable {
        var namespace: String
        var name: String
        var labels: [String: String]
        /// Running, with an IP, and not being deleted: the activator may probe it.
        var address: String?
        var ready: Bool
        var failure: String?
        var waiting: String?
    }

    /// What an HPA or a ScaledObject scales: `kind:namespace/name`.
    struct ScalerReading: Sendable {
        var scaler: String
        var target: String
    }

    struct WorkloadEntry: Sendable {
        var kind: WorkloadKind
        var uid: String?
        var reading: WorkloadTarget.Reading
    }

    public let config: AutoscalerConfig
    /// The cluster's DNS domain, for the host names the activator answers.
    public let clusterDomain: String
    private var workloads: [WorkloadKind: [String: WorkloadEntry]] = [:]
    private var pods: [String: PodReading] = [:]
    private var serviceAnnotations: [String: [String: String]] = [:]
    private var scalers: [String: [String: ScalerReading]] = [:]

    public init(config: AutoscalerConfig = AutoscalerConfig(), clusterDomain: String = "cluster.local") {
        self.config = config
        self.clusterDomain = clusterDomain
    }

    // MARK: Changes, as a list or watch reports them (keys are `namespace/name`)

    public mutating func replaceWorkloads(_ all: [String: WorkloadObject], kind: WorkloadKind) {
        workloads[kind] = all.mapValues { read($0, kind: kind) }
    }

    public mutating func put(workload object: WorkloadObject, key: String, kind: WorkloadKind) {
        workloads[kind, default: [:]][key] = read(object, kind: kind)
    }

    public mutating func removeWorkload(key: String, kind: WorkloadKind) {
        workloads[kind]?[key] = nil
    }

    public mutating func replacePods(_ all: [String: PodObject]) {
        pods = all.mapValues(Self.read)
    }

    public mutating func put(pod: PodObject, key: String) { pods[key] = Self.read(pod) }

    public mutating func removePod(key: String) { pods[key] = nil }

    public mutating func replaceServices(_ all: [String: ServiceObject]) {
        serviceAnnotations = all.mapValues { $0.metadata.annotations ?? [:] }
    }

    public mutating func put(service: ServiceObject, key: String) { serviceAnnotations[key] = service.metadata.annotations ?? [:] }

    public mutating func removeService(key: String) { serviceAnnotations[key] = nil }

    /// `collection` tells HPAs from ScaledObjects apart: both can name a workload.
    public mutating func replaceScalers(_ all: [String: ScalerObject], collection: String) {
        scalers[collection] = all.compactMapValues { Self.read($0, collection: collection) }
    }

    public mutating func put(scaler: ScalerObject, key: String, collection: String) {
        scalers[collection, default: [:]][key] = Self.read(scaler, collection: collection)
    }

    public mutating func removeScaler(key: String, collection: String) { scalers[collection]?[key] = nil }

    private func read(_ object: WorkloadObject, kind: WorkloadKind) -> WorkloadEntry {
        WorkloadEntry(kind: kind, uid: object.metadata.uid, reading: WorkloadTarget.read(object, kind: kind.rawValue, config: config))
    }

    /// Waiting reasons that mean the pod will not start by waiting longer.
    static let failingReasons: Set<String> = [
        "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName",
    ]

    static func read(_ pod: PodObject) -> PodReading {
        let status = pod.status
        let conditions = status?.conditions ?? []
        let deleting = pod.metadata.deletionTimestamp != nil
        let running = status?.phase == "Running" && !deleting
        let ready = running && conditions.contains { $0.type == "Ready" && $0.status == "True" }
        let name = pod.metadata.name
        let failure = ((status?.initContainerStatuses ?? []) + (status?.containerStatuses ?? [])).lazy.compactMap { container -> String? in
            guard let waiting = container.state?.waiting, let reason = waiting.reason, failingReasons.contains(reason) else { return nil }
            return "pod \(name): container \(container.name ?? "?"): \(reason)" + (waiting.message.map { ": \($0)" } ?? "")
        }.first
        let waiting = conditions.first { $0.type == "PodScheduled" && $0.status == "False" && $0.reason == "Unschedulable" }
            .map { "pod \(name): Unschedulable" + ($0.message.map { ": \($0)" } ?? "") }
        return PodReading(namespace: pod.metadata.namespace ?? "default", name: name, labels: pod.metadata.labels ?? [:],
                          address: running ? status?.podIP : nil, ready: ready, failure: failure, waiting: waiting)
    }

    static func read(_ scaler: ScalerObject, collection: String) -> ScalerReading? {
        guard let reference = scaler.spec?.scaleTargetRef else { return nil }
        let namespace = scaler.metadata.namespace ?? "default"
        let kind = scaler.kind ?? (collection == "scaledobjects" ? "ScaledObject" : "HorizontalPodAutoscaler")
        return ScalerReading(scaler: "\(kind) \(namespace)/\(scaler.metadata.name)",
                             target: "\(reference.kind ?? "Deployment"):\(namespace)/\(reference.name)")
    }

    // MARK: The view

    public func view() -> ClusterView {
        var view = ClusterView()
        var scaledElsewhere: [String: String] = [:]
        for readings in scalers.values {
            for reading in readings.values.sorted(by: { $0.scaler < $1.scaler }) where scaledElsewhere[reading.target] == nil {
                scaledElsewhere[reading.target] = reading.scaler
            }
        }
        let index = PodIndex(pods.values)
        for kind in WorkloadKind.allCases {
            for (_, entry) in (workloads[kind] ?? [:]).sorted(by: { $0.key < $1.key }) {
                switch entry.reading {
                case .notManaged:
                    continue
                case .invalid(let namespace, let workload, let reason):
                    view.notices.append(WorkloadNotice(kind: kind.rawValue, namespace: namespace, workload: workload, uid: entry.uid,
                                                       reason: .invalidPolicy, message: reason))
                case .managed(let target):
                    if let scaler = scaledElsewhere["\(kind.rawValue):\(target.name)"] {
                        view.notices.append(WorkloadNotice(
                            kind: kind.rawValue, namespace: target.namespace, workload: target.workload, uid: entry.uid,
                            reason: .scaledElsewhere,
                            message: "\(scaler) scales this \(kind.rawValue); Thaw leaves it alone (remove one of the two)"))
                        continue
                    }
                    view.targets.append(target)
                    view.states.append(state(of: target, pods: index.pods(in: target.namespace, matching: target.selector)))
                }
            }
        }
        view.targets.sort { $0.name < $1.name }
        view.states.sort { $0.name < $1.name }
        (view.routes, view.warnings) = routes(for: view.targets, states: view.states)
        return view
    }

    private func state(of target: WorkloadTarget, pods: [PodReading]) -> TargetState {
        var state = TargetState(name: target.name, declared: target.replicas)
        for pod in pods.sorted(by: { $0.name < $1.name }) {
            if let address = pod.address {
                let endpoint = EndpointAddress(host: address, port: target.queuePort)
                state.endpoints.append(endpoint)
                if pod.ready { state.ready.append(endpoint) }
            }
            state.failure = state.failure ?? pod.failure
            state.waiting = state.waiting ?? pod.waiting
        }
        // Failing pods beside a ready one do not stop requests: they go to the ready one.
        if state.ready.isEmpty {
            state.failure = state.failure ?? target.rolloutFailure
        } else {
            state.failure = nil
            state.waiting = nil
        }
        return state
    }

    /// The names a service or workload is reached by in the cluster: `NAME.NAMESPACE.svc.DOMAIN`,
    /// `NAME.NAMESPACE.svc` and `NAME.NAMESPACE`.
    public func hosts(_ name: String, namespace: String) -> [String] {
        ["\(name).\(namespace).svc.\(clusterDomain)", "\(name).\(namespace).svc", "\(name).\(namespace)"]
    }

    private func routes(for targets: [WorkloadTarget], states: [TargetState]) -> (RoutingConfig, [String]) {
        var config = RoutingConfig()
        var warnings: [String] = []
        let byName = Dictionary(states.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var serviceHosts: Set<String> = []
        var extraHosts: [String: [String]] = [:]
        let groups = Dictionary(grouping: targets) { "\($0.namespace)/\($0.service)" }
        for (group, members) in groups.sorted(by: { $0.key < $1.key }) {
            let namespace = members[0].namespace, service = members[0].service
            var releases: [String: WorkloadTarget] = [:]
            for member in members where member.component == .predictor {
                if let other = releases[member.release] {
                    warnings.append("service \(group): release \(member.release) is claimed by \(other.workload) and \(member.workload); \(other.workload) gets its traffic")
                    continue
                }
                releases[member.release] = member
            }
            let transformers = members.filter { $0.component == .transformer }
            if transformers.count > 1 {
                warnings.append("service \(group): more than one transformer (\(transformers.map(\.workload).joined(separator: ", "))); \(transformers[0].workload) gets the traffic")
            }
            let annotations = serviceAnnotations[group] ?? [:]
            let defaultRelease: String?
            if let named = annotations[Self.defaultReleaseKey] {
                defaultRelease = releases[named] != nil ? named : nil
                if defaultRelease == nil {
                    warnings.append("Service \(group): annotation \(Self.defaultReleaseKey): \"\(named)\" is no release of it (releases: \(releases.keys.sorted().joined(separator: ", ")))")
                }
            } else if releases.count == 1 {
                defaultRelease = releases.keys.first
            } else if releases["default"] != nil {
                defaultRelease = "default"
            } else {
                defaultRelease = releases.keys.min()
                if releases.count > 1 {
                    warnings.append("service \(group) has releases \(releases.keys.sorted().joined(separator: ", ")) and no \(Self.defaultReleaseKey) annotation on its Service; \(defaultRelease!) is the default")
                }
            }
            var canary: String?
            var percent = 0.0
            if let named = annotations[Self.canaryReleaseKey] {
                if releases[named] != nil, named != defaultRelease {
                    canary = named
                    let text = annotations[Self.canaryPercentKey] ?? "0"
                    if let value = Double(text), (0...100).contains(value) {
                        percent = value
                    } else {
                        warnings.append("Service \(group): annotation \(Self.canaryPercentKey): \"\(text)\" must be a number from 0 to 100; the canary gets no traffic")
                    }
                } else {
                    warnings.append("Service \(group): annotation \(Self.canaryReleaseKey): \"\(named)\" is no other release of it")
                }
            }
            let hostsOfService = hosts(service, namespace: namespace)
            let split = defaultRelease.flatMap { releases[$0] }.map { target in
                (default: target.name, canary: canary.flatMap { releases[$0]?.name })
            }
            if let transformer = transformers.first {
                extraHosts[transformer.name] = hostsOfService
                serviceHosts.formUnion(hostsOfService)
                if let split {
                    // The transformer reaches the predictors as PREDICTOR_HOST, through the same split.
                    let predictorHosts = hosts("\(service)-predictor", namespace: namespace)
                    serviceHosts.formUnion(predictorHosts)
                    config.services.append(ServiceConfig(name: "\(group)-predictor", hosts: predictorHosts, defaultTarget: split.default,
                                                         canaryTarget: split.canary, canaryTrafficPercent: percent))
                }
            } else if let split {
                serviceHosts.formUnion(hostsOfService)
                config.services.append(ServiceConfig(name: group, hosts: hostsOfService, defaultTarget: split.default,
                                                     canaryTarget: split.canary, canaryTrafficPercent: percent))
            }
        }
        for target in targets {
            let state = byName[target.name]
            // A service's names go to the service: a single-release workload is often named as its service.
            let own = hosts(target.workload, namespace: target.namespace).filter { !serviceHosts.contains($0) }
            config.targets.append(TargetConfig(name: target.name, hosts: (extraHosts[target.name] ?? []) + own,
                                               endpoints: state?.endpoints ?? [], containerConcurrency: target.containerConcurrency,
                                               readinessPath: target.readinessPath, failure: state?.failure))
        }
        return (config, warnings)
    }
}

/// Pods by namespace and label, so matching 10,000 selectors does not scan 30,000 pods each time.
struct PodIndex {
    private var byLabel: [String: [String: [ClusterState.PodReading]]] = [:]

    init(_ pods: some Sequence<ClusterState.PodReading>) {
        for pod in pods {
            for (key, value) in pod.labels { byLabel[pod.namespace, default: [:]]["\(key)=\(value)", default: []].append(pod) }
        }
    }

    func pods(in namespace: String, matching selector: [String: String]) -> [ClusterState.PodReading] {
        // The rarest label narrows fastest; every pod must still have all of them.
        let candidates = selector.map { byLabel[namespace]?["\($0.key)=\($0.value)"] ?? [] }.min { $0.count < $1.count } ?? []
        return candidates.filter { pod in selector.allSatisfy { pod.labels[$0.key] == $0.value } }
    }
}

/// What a cluster's objects amount to for Thaw, as of one moment.
public struct ClusterView: Sendable {
    /// Workloads Thaw scales, by name.
    public var targets: [WorkloadTarget] = []
    /// Each target's replicas, as its pods say.
    public var states: [TargetState] = []
    /// What the activator routes.
    public var routes = RoutingConfig()
    /// Workloads that opted in but that Thaw leaves alone, and why (each becomes a Kubernetes Event).
    public var notices: [WorkloadNotice] = []
    /// Problems with how targets group into services (logged; routing goes on with the fallback named).
    public var warnings: [String] = []

    public init() {}
}

/// A workload that asked for Thaw and is not scaled by it, and why.
public struct WorkloadNotice: Sendable, Equatable, Hashable {
    public enum Reason: String, Sendable {
        /// Its annotations or labels are wrong: it keeps its current scale until they are fixed.
        case invalidPolicy = "InvalidPolicy"
        /// An HPA or a KEDA ScaledObject scales it already.
        case scaledElsewhere = "ScaledElsewhere"
    }

    public var kind: String
    public var namespace: String
    public var workload: String
    public var uid: String?
    public var reason: Reason
    public var message: String
}
