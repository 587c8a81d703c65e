import Autoscaling
import ScalingPolicy
import ScaleTargets

/// A target the autoscaler decides for: its name (what stats and pokes say) and its resolved policy.
public struct ScaledTarget: Sendable {
    public var name: String
    public var policy: TargetPolicy
    /// The replicas a target found already running has (a Deployment's `spec.replicas`): it is
    /// adopted at that scale and decided from there. Nil starts it at its initial scale.
    public var current: Int?

    public init(name: String, policy: TargetPolicy, current: Int? = nil) {
        self.name = name
        self.policy = policy
        self.current = current
    }
}

/// Where the autoscaler learns which targets exist and their policies: fixed for local mode, the
/// annotated workloads of a cluster for Kubernetes. The autoscaler cannot tell them apart.
public protocol TargetCatalog: Sendable {
    /// The targets to start with.
    var initial: [ScaledTarget] { get }
    /// Calls `update` with every target after each change, until cancelled.
    func watch(_ update: @escaping @Sendable ([ScaledTarget]) -> Void) async throws
}

/// The targets of a local-mode plan: they never change.
public struct FixedTargets: TargetCatalog {
    public let initial: [ScaledTarget]

    public init(_ targets: [ScaledTarget]) { initial = targets }

    public func watch(_ update: @escaping @Sendable ([ScaledTarget]) -> Void) async throws {}
}

/// The targets of a local-mode plan that follows its file: an edit may change their policies.
public struct FollowedTargets: TargetCatalog {
    let targets: Followed<[ScaledTarget]>

    public init(_ targets: Followed<[ScaledTarget]>) { self.targets = targets }

    public var initial: [ScaledTarget] { targets.value }

    public func watch(_ update: @escaping @Sendable ([ScaledTarget]) -> Void) async throws {
        try await targets.watch(update)
    }
}

/// One target's state as `/status` shows it and `thaw status` prints it.
public struct TargetStatus: Codable, Sendable, Equatable {
    public var name: String
    public var metric: String
    /// Replicas asked of the driver (after bounds), running, and ready.
    public var requested: Int
    public var running: Int
    public var ready: Int
    /// The decider's desired count before bounds; nil before the first decision.
    public var desired: Int?
    public var stable: Double?
    public var panic: Double?
    public var targetPerReplica: Double
    public var panicking: Bool
    public var excessBurstCapacity: Int?
    /// Requests per second over the panic window, whatever the scaling metric is.
    public var rps: Double
    /// Requests waiting in the activator, from its newest report.
    public var queueLength: Int
    public var activity: String
    public var reason: String
    /// Stats stopped arriving from ready replicas; the scale is held.
    public var holding: Bool
    public var failure: String?
    /// Why a replica is not up though nothing failed (a pod no node has room for yet).
    public var waiting: String? = nil
    /// While the collector cannot read this target's signal: its newest reason.
    public var signalFailure: String? = nil
    /// While that failure has lasted long enough for the fallback: the replica count it applies.
    public var fallbackReplicas: Int? = nil
    /// The rules deciding: "thaw" or "kpa".
    public var policy: String? = nil
    /// Thaw's policy: the load time it plans with, and where it comes from.
    public var loadTimeSeconds: Double? = nil
    public var loadTimeSource: String? = nil
    /// Thaw's policy: idle replicas kept warm and replicas started ahead of expected demand.
    public var keptWarm: Int? = nil
    public var prewarmed: Int? = nil
}
