import Synchronization
import ThawVocabulary

/// What the autoscaler and the activator know of one scale target's replicas.
///
/// Both drivers (local processes, Kubernetes) describe targets only this way, so neither the
/// autoscaler nor the activator can tell which one they run on.
public struct TargetState: Sendable, Equatable {
    public var name: String
    /// Every replica that is running, ready or not: the activator probes them itself.
    public var endpoints: [EndpointAddress]
    /// Replicas whose readiness check passed.
    public var ready: [EndpointAddress]
    /// Why the target cannot come up (a crash loop), while that lasts.
    public var failure: String?
    /// Why a replica is not up yet though nothing failed (no node has room: a GPU node is being
    /// added). Requests keep waiting, and the target is not scaled back to zero while they do.
    public var waiting: String?
    /// The replica count the platform holds now, when someone else can change it (`kubectl scale`
    /// on a cluster); nil when only this driver sets it.
    public var declared: Int?

    public init(name: String, endpoints: [EndpointAddress] = [], ready: [EndpointAddress] = [], failure: String? = nil,
                waiting: String? = nil, declared: Int? = nil) {
        self.name = name
        self.endpoints = endpoints
        self.ready = ready
        self.failure = failure
        self.waiting = waiting
        self.declared = declared
    }
}

/// Something whose replicas we scale and whose endpoints we watch.
public protocol ReplicaDriver: Sendable {
    /// Asks for `count` replicas of `target`. Returns at once; the driver converges in the background.
    func setReplicas(_ count: Int, of target: String)
    /// Calls `update` with every target's state now and after every change, until cancelled.
    func watch(_ update: @escaping @Sendable ([TargetState]) -> Void) async throws
}

extension RoutingConfig {
    /// The same routes with each target's endpoints and failure as a driver reports them: what an
    /// activator in front of that driver routes to, in this process or through a routing file.
    public func following(_ states: [TargetState]) -> RoutingConfig {
        var config = self
        let byName = Dictionary(states.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for index in config.targets.indices {
            guard let state = byName[config.targets[index].name] else { continue }
            config.targets[index].endpoints = state.endpoints
            config.targets[index].failure = state.failure
        }
        return config
    }
}

extension ReplicaDriver {
    /// Calls `apply` with the planned routes (fixed, or following an edited file) and each target's
    /// endpoints and failure as this driver reports them, after either changes, until cancelled.
    /// Nothing is applied before the driver's first report.
    public func watchRoutes(_ planned: Followed<RoutingConfig>, _ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        let latest = LatestRoutes(routes: planned.value)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await planned.watch { routes in latest.update(apply) { $0.routes = routes } } }
            group.addTask { try await watch { states in latest.update(apply) { $0.states = states } } }
            // Either watch ending (cancellation, or the driver stopping) ends both.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The newest plan and the newest states, whichever changed last.
private final class LatestRoutes: Sendable {
    struct Pair {
        var routes: RoutingConfig
        var states: [TargetState]?
    }

    private let pair: Mutex<Pair>

    init(routes: RoutingConfig) { pair = Mutex(Pair(routes: routes)) }

    /// Applied under the lock, so two changes at once are applied in the order they were made.
    func update(_ apply: (RoutingConfig) -> Void, _ change: (inout Pair) -> Void) {
        pair.withLock { pair in
            change(&pair)
            if let states = pair.states { apply(pair.routes.following(states)) }
        }
    }
}
