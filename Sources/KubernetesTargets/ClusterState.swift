import ScaleTargets
import ScalingPolicy
import ThawVocabulary

/// What Thaw knows of a cluster, kept as the watches report it, and what follows from it: which
/// workloads are targets and with what policy, each target's endpoints, and the activator's routes.
///
/// Pure: the driver feeds it the objects its watches decode and asks for a `ClusterView`. Each object
/// is read once when it changes (a policy is parsed once per edit, not once per view), pods are
/// indexed by label as they come and go, and a view after pod changes only redoes the targets those
/// pods belong to: on 10,000 workloads and 30,000 pods, a pod turning Ready costs a few targets'
/// work, not a pass over the cluster. A change of workloads, Services or other scalers rebuilds the
/// whole view.
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
    /// The release that gets copies of a share of the service's requests, and the share.
    public static let mirrorReleaseKey = "serving.thaw.dev/mirror-release"
    public static let mirrorPercentKey = "serving.thaw.dev/mirror-percent"

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
        /// Since when a live pod has not been ready (Unix seconds): the later of its start and its
        /// Ready condition's last change, so a pod that was ready for days and just went unready is
        /// measured from then. Nil for a ready pod, and for one being deleted or that has ended
        /// (Failed, Succeeded: an evicted pod stays listed), which no deadline is about.
        var notReadySince: Double?
    }

    /// What an HPA or a ScaledObject scales: `kind:namespace/name`.
    struct ScalerReading: Sendable {
        var scaler: String
        var target: String
    }

    struct WorkloadEntry: Sendable, Equatable {
        var kind: WorkloadKind
        var uid: String?
        var reading: WorkloadTarget.Reading
    }

    /// The cluster defaults (Knative's config-autoscaler keys); `setConfig` changes them.
    public private(set) var config: AutoscalerConfig
    /// The cluster's DNS domain, for the host names the activator answers.
    public let clusterDomain: String
    private var workloads: [WorkloadKind: [String: WorkloadEntry]] = [:]
    /// The workloads as last seen, to read again when the cluster defaults change.
    private var workloadObjects: [WorkloadKind: [String: WorkloadObject]] = [:]
    private var pods: [String: PodReading] = [:]
    private var serviceAnnotations: [String: [String: String]] = [:]
    private var scalers: [String: [String: ScalerReading]] = [:]
    private var podIndex = PodIndex()

    /// The last view, and what changed since: nil forces a whole rebuild.
    private var cached: Cached?
    /// Pods (as they were, and as they are) changed since the last view: their targets are redone.
    private var changedPods: [PodReading] = []
    /// Targets (by position in the cached view) with a pod that is not ready yet and a progress
    /// deadline: when it falls due. Redone by the first view at or after that time.
    private var deadlines: [Int: Double] = [:]
    /// The time of the view being made (Unix seconds); nil when the caller keeps no clock.
    private var now: Double?

    /// When a view next needs making though nothing changed: a pod's progress deadline falls due.
    public var nextDeadline: Double? { deadlines.values.min() }

    struct Cached {
        var view: ClusterView
        /// Targets by the first label of their selector, to find a changed pod's targets: `namespace` → `key=value` → positions.
        var bySelectorLabel: [String: [String: [Int]]]
    }

    public init(config: AutoscalerConfig = AutoscalerConfig(), clusterDomain: String = "cluster.local") {
        self.config = config
        self.clusterDomain = clusterDomain
    }

    // MARK: Changes, as a list or watch reports them (keys are `namespace/name`)

    public mutating func replaceWorkloads(_ all: [String: WorkloadObject], kind: WorkloadKind) {
        workloads[kind] = all.mapValues { read($0, kind: kind) }
        workloadObjects[kind] = all
        cached = nil
    }

    public mutating func put(workload object: WorkloadObject, key: String, kind: WorkloadKind) {
        let entry = read(object, kind: kind)
        workloadObjects[kind, default: [:]][key] = object
        // Most workload events are status updates (ready counts) that change nothing Thaw reads:
        // they keep the view, so the pod changes that came with them stay cheap.
        guard workloads[kind, default: [:]].updateValue(entry, forKey: key) != entry else { return }
        cached = nil
    }

    public mutating func removeWorkload(key: String, kind: WorkloadKind) {
        workloads[kind]?[key] = nil
        workloadObjects[kind]?[key] = nil
        cached = nil
    }

    public mutating func replacePods(_ all: [String: PodObject]) {
        pods = all.mapValues(Self.read)
        podIndex = PodIndex()
        for (key, pod) in pods { podIndex.insert(key, pod) }
        cached = nil
        changedPods = []
    }

    public mutating func put(pod: PodObject, key: String) {
        let reading = Self.read(pod)
        let old = pods.updateValue(reading, forKey: key)
        if let old { podIndex.remove(key, old) }
        podIndex.insert(key, reading)
        // Kept only for a view to patch: with none (not everything listed yet, or a rebuild due) the
        // next view is built whole, and the list would only grow.
        guard cached != nil else { return }
        if let old { changedPods.append(old) }
        changedPods.append(reading)
    }

    public mutating func removePod(key: String) {
        guard let old = pods.removeValue(forKey: key) else { return }
        podIndex.remove(key, old)
        if cached != nil { changedPods.append(old) }
    }

    public mutating func replaceServices(_ all: [String: ServiceObject]) {
        serviceAnnotations = all.mapValues { $0.metadata.annotations ?? [:] }
        cached = nil
    }

    public mutating func put(service: ServiceObject, key: String) {
        serviceAnnotations[key] = service.metadata.annotations ?? [:]
        cached = nil
    }

    public mutating func removeService(key: String) {
        serviceAnnotations[key] = nil
        cached = nil
    }

    /// `collection` tells HPAs from ScaledObjects apart: both can name a workload.
    public mutating func replaceScalers(_ all: [String: ScalerObject], collection: String) {
        scalers[collection] = all.compactMapValues { Self.read($0, collection: collection) }
        cached = nil
    }

    public mutating func put(scaler: ScalerObject, key: String, collection: String) {
        scalers[collection, default: [:]][key] = Self.read(scaler, collection: collection)
        cached = nil
    }

    public mutating func removeScaler(key: String, collection: String) {
        scalers[collection]?[key] = nil
        cached = nil
    }

    /// New cluster defaults: every workload's policy is read again with them.
    public mutating func setConfig(_ config: AutoscalerConfig) {
        self.config = config
        for (kind, objects) in workloadObjects {
            workloads[kind] = objects.mapValues { read($0, kind: kind) }
        }
        cached = nil
    }

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
                          address: running ? status?.podIP : nil, ready: ready, failure: failure, waiting: waiting,
                          notReadySince: Self.notReadySince(pod, ready: ready, deleting: deleting))
    }

    static func read(_ scaler: ScalerObject, collection: String) -> ScalerReading? {
        guard let reference = scaler.spec?.scaleTargetRef else { return nil }
        let namespace = scaler.metadata.namespace ?? "default"
        let kind = scaler.kind ?? (collection == "scaledobjects" ? "ScaledObject" : "HorizontalPodAutoscaler")
        return ScalerReading(scaler: "\(kind) \(namespace)/\(scaler.metadata.name)",
                             target: "\(reference.kind ?? "Deployment"):\(namespace)/\(reference.name)")
    }

    // MARK: The view

    static func notReadySince(_ pod: PodObject, ready: Bool, deleting: Bool) -> Double? {
        let phase = pod.status?.phase
        guard !ready, !deleting, phase != "Failed", phase != "Succeeded" else { return nil }
        let started = pod.status?.startTime.flatMap(unixSeconds)
        let changed = pod.status?.conditions?.first { $0.type == "Ready" }?.lastTransitionTime.flatMap(unixSeconds)
        return [started, changed].compactMap { $0 }.max()
    }

    /// RFC 3339 as the API server writes it (`2026-12-04T16:00:00Z`, always UTC, whole seconds).
    /// By hand: a formatter per pod would cost more than the rest of reading it.
    public static func unixSeconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day) else { return nil }
        // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second)
    }

    /// The view of the cluster at `now` (Unix seconds): the last one with the changed pods' targets
    /// (and those whose progress deadline fell due) redone, or a new one. Without `now`, no progress
    /// deadline is checked.
    public mutating func view(at now: Double? = nil) -> ClusterView {
        self.now = now
        if var cached {
            // Only pods changed: redo the targets whose selectors match them, as they were or are.
            var affected = Set<Int>()
            if let now {
                for (position, due) in deadlines where due <= now { affected.insert(position) }
            }
            for pod in changedPods {
                for label in pod.labels {
                    for position in cached.bySelectorLabel[pod.namespace]?["\(label.key)=\(label.value)"] ?? []
                    where cached.view.targets[position].selector.allSatisfy({ pod.labels[$0.key] == $0.value }) {
                        affected.insert(position)
                    }
                }
            }
            changedPods = []
            for position in affected {
                let target = cached.view.targets[position]
                let state = state(of: target, pods: podIndex.pods(in: target.namespace, matching: target.selector, from: pods),
                                  position: position)
                cached.view.states[position] = state
                // Routes list targets in the same order; only endpoints and failure follow pods.
                cached.view.routes.targets[position].endpoints = state.endpoints
                cached.view.routes.targets[position].failure = state.failure
            }
            self.cached = cached
            return cached.view
        }
        changedPods = []
        deadlines = [:]
        let view = rebuild()
        var bySelectorLabel: [String: [String: [Int]]] = [:]
        for (position, target) in view.targets.enumerated() {
            guard let first = target.selector.min(by: { $0.key < $1.key }) else { continue }
            bySelectorLabel[target.namespace, default: [:]]["\(first.key)=\(first.value)", default: []].append(position)
        }
        cached = Cached(view: view, bySelectorLabel: bySelectorLabel)
        return view
    }

    private mutating func rebuild() -> ClusterView {
        var view = ClusterView()
        var scaledElsewhere: [String: String] = [:]
        for readings in scalers.values {
            for reading in readings.values.sorted(by: { $0.scaler < $1.scaler }) where scaledElsewhere[reading.target] == nil {
                scaledElsewhere[reading.target] = reading.scaler
            }
        }
        var names = Set<String>()
        for kind in WorkloadKind.allCases {
            let entries = workloads[kind] ?? [:]
            for key in entries.keys.sorted() {
                let entry = entries[key]!
                switch entry.reading {
                case .notManaged:
                    continue
                case .invalid(let namespace, let workload, let reason):
                    view.notices.append(WorkloadNotice(kind: kind.rawValue, namespace: namespace, workload: workload, uid: entry.uid,
                                                       reason: .invalidPolicy, message: reason))
                case .managed(let target):
                    guard names.insert(target.name).inserted else {
                        // A target is named NAMESPACE/NAME: a Deployment of that name was Thaw's first.
                        view.notices.append(WorkloadNotice(
                            kind: kind.rawValue, namespace: target.namespace, workload: target.workload, uid: entry.uid, reason: .invalidPolicy,
                            message: "a Deployment named \(target.workload) in \(target.namespace) is Thaw's already, and targets are named by namespace and name; rename one"))
                        continue
                    }
                    if let scaler = scaledElsewhere["\(kind.rawValue):\(target.name)"] {
                        view.notices.append(WorkloadNotice(
                            kind: kind.rawValue, namespace: target.namespace, workload: target.workload, uid: entry.uid,
                            reason: .scaledElsewhere,
                            message: "\(scaler) scales this \(kind.rawValue); Thaw leaves it alone (remove one of the two)"))
                        continue
                    }
                    view.targets.append(target)
                }
            }
        }
        // Both kinds' targets by name; states and route targets follow this order, position for position.
        view.targets.sort { $0.name < $1.name }
        for (position, target) in view.targets.enumerated() {
            view.states.append(state(of: target, pods: podIndex.pods(in: target.namespace, matching: target.selector, from: pods),
                                     position: position))
        }
        (view.routes, view.warnings) = routes(for: view.targets, states: view.states)
        return view
    }

    /// A target's state from its pods; notes in `deadlines` when a pod's progress deadline falls due.
    private mutating func state(of target: WorkloadTarget, pods: [PodReading], position: Int) -> TargetState {
        deadlines[position] = nil
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
            state.failure = state.failure ?? target.rolloutFailure ?? overdue(target, pods: pods, position: position)
        } else {
            state.failure = nil
            state.waiting = nil
        }
        return state
    }

    /// With none of a target's pods ready: the first started pod still not ready past the target's
    /// progress deadline, said as the target's failure (so waiting requests get 503 with it at once);
    /// before that, when the earliest deadline falls due.
    private mutating func overdue(_ target: WorkloadTarget, pods: [PodReading], position: Int) -> String? {
        guard let deadline = target.progressDeadline, let now else { return nil }
        var earliest: Double?
        for pod in pods.sorted(by: { $0.name < $1.name }) {
            guard let started = pod.notReadySince else { continue }
            if now - started >= deadline {
                return "pod \(pod.name) did not become ready within \(GoDuration.format(.seconds(deadline))) (\(WorkloadTarget.progressDeadlineKey))"
                    + (pod.waiting.map { "; \($0)" } ?? "")
            }
            earliest = min(earliest ?? .infinity, started + deadline)
        }
        deadlines[position] = earliest
        return nil
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
            // The annotation, else the only release, else the one named `default`, else the first by name.
            let fallback = releases.count == 1 ? releases.keys.first : releases["default"] != nil ? "default" : releases.keys.min()
            let defaultRelease: String?
            if let named = annotations[Self.defaultReleaseKey], releases[named] != nil {
                defaultRelease = named
            } else if let named = annotations[Self.defaultReleaseKey] {
                // A typo must not take the service's names away: the fallback serves, and the log says so.
                defaultRelease = fallback
                warnings.append("Service \(group): annotation \(Self.defaultReleaseKey): \"\(named)\" is no release of it (releases: \(releases.keys.sorted().joined(separator: ", "))); \(fallback ?? "none") is the default")
            } else {
                defaultRelease = fallback
                if releases.count > 1, releases["default"] == nil {
                    warnings.append("service \(group) has releases \(releases.keys.sorted().joined(separator: ", ")) and no \(Self.defaultReleaseKey) annotation on its Service; \(fallback!) is the default")
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
            var mirror: String?
            var mirrorPercent = 0.0
            if let named = annotations[Self.mirrorReleaseKey] {
                let text = annotations[Self.mirrorPercentKey] ?? "0"
                if releases[named] == nil || named == defaultRelease {
                    warnings.append("Service \(group): annotation \(Self.mirrorReleaseKey): \"\(named)\" is no other release of it; nothing is mirrored")
                } else if let value = Double(text), (0...100).contains(value) {
                    (mirror, mirrorPercent) = (releases[named]!.name, value)
                } else {
                    warnings.append("Service \(group): annotation \(Self.mirrorPercentKey): \"\(text)\" must be a number from 0 to 100; nothing is mirrored")
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
                                                         canaryTarget: split.canary, canaryTrafficPercent: percent,
                                                         mirrorTarget: mirror, mirrorPercent: mirrorPercent))
                }
            } else if let split {
                serviceHosts.formUnion(hostsOfService)
                config.services.append(ServiceConfig(name: group, hosts: hostsOfService, defaultTarget: split.default,
                                                     canaryTarget: split.canary, canaryTrafficPercent: percent,
                                                     mirrorTarget: mirror, mirrorPercent: mirrorPercent))
            }
        }
        for target in targets {
            let state = byName[target.name]
            // A service's names go to the service: a single-release workload is often named as its service.
            let own = hosts(target.workload, namespace: target.namespace).filter { !serviceHosts.contains($0) }
            config.targets.append(TargetConfig(name: target.name, hosts: (extraHosts[target.name] ?? []) + own,
                                               endpoints: state?.endpoints ?? [], containerConcurrency: target.containerConcurrency,
                                               readinessPath: target.readinessPath, failure: state?.failure, protocol: target.protocol))
        }
        return (config, warnings)
    }
}

/// Pod keys by namespace and label, kept as pods come and go, so matching 10,000 selectors does not
/// scan 30,000 pods.
struct PodIndex: Sendable {
    private var byLabel: [String: [String: Set<String>]] = [:]

    mutating func insert(_ key: String, _ pod: ClusterState.PodReading) {
        for (label, value) in pod.labels { byLabel[pod.namespace, default: [:]]["\(label)=\(value)", default: []].insert(key) }
    }

    mutating func remove(_ key: String, _ pod: ClusterState.PodReading) {
        // Empty sets go too: labels unique to one pod (a Job's controller-uid) would pile up for good.
        for (label, value) in pod.labels {
            let pair = "\(label)=\(value)"
            byLabel[pod.namespace]?[pair]?.remove(key)
            if byLabel[pod.namespace]?[pair]?.isEmpty == true { byLabel[pod.namespace]?[pair] = nil }
        }
        if byLabel[pod.namespace]?.isEmpty == true { byLabel[pod.namespace] = nil }
    }

    func pods(in namespace: String, matching selector: [String: String],
              from pods: [String: ClusterState.PodReading]) -> [ClusterState.PodReading] {
        // The rarest label narrows fastest; every pod must still have all of them.
        let candidates = selector.map { byLabel[namespace]?["\($0.key)=\($0.value)"] ?? [] }.min { $0.count < $1.count } ?? []
        return candidates.compactMap { pods[$0] }.filter { pod in selector.allSatisfy { pod.labels[$0.key] == $0.value } }
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
