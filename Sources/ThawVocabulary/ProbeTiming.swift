/// When and how often a replica's readiness is checked, and how many failures take it out of
/// rotation: the timing fields of a container's `readinessProbe`, with Kubernetes' defaults.
public struct ProbeTiming: Sendable, Equatable {
    /// No probe counts before this much time after the replica started (`initialDelaySeconds`).
    public var initialDelay: Duration
    /// How often a ready replica is probed again (`periodSeconds`).
    public var period: Duration
    /// How long one probe may take before it counts as failed (`timeoutSeconds`).
    public var timeout: Duration
    /// Failed probes in a row that take a ready replica out of rotation (`failureThreshold`).
    public var failureThreshold: Int

    public init(initialDelay: Duration = .zero, period: Duration = .seconds(10), timeout: Duration = .seconds(1),
                failureThreshold: Int = 3) {
        self.initialDelay = initialDelay
        self.period = period
        self.timeout = timeout
        self.failureThreshold = failureThreshold
    }
}
