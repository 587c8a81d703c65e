import Autoscaling
import ScalingPolicy

/// A target the autoscaler decides for: its name (what stats and pokes say) and its resolved policy.
public struct ScaledTarget: Sendable {
    public var name: String
    public var policy: TargetPolicy

    public init(name: String, policy: TargetPolicy) {
        self.name = name
        self.policy = policy
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
    /// While the collector cannot read this target's signal: its newest reason.
    public var signalFailure: String? = nil
    /// While that failure has lasted long enough for the fallback: the replica count it applies.
    public var fallbackReplicas: Int? = nil
}
