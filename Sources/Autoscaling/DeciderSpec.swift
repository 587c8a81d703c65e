/// Everything the per-target decision needs, already resolved from annotations and cluster defaults.
///
/// Keeping the spec resolved (numbers and durations, no strings) is what keeps the decider pure:
/// parsing and validation live in `ScalingPolicy`, and `thaw simulate` can override any field.
public struct DeciderSpec: Sendable, Equatable {
    /// The signal to scale on.
    public var metric: MetricKind
    /// The per-replica value the decider aims for (total x utilization), in the metric's unit.
    public var targetValue: Double
    /// The per-replica capacity (before utilization), used for excess burst capacity.
    public var totalValue: Double
    /// Spare capacity to keep before the activator may leave the request path; -1 = always in the path.
    public var targetBurstCapacity: Double
    /// Requests one activator instance is sized for.
    public var activatorCapacity: Double
    /// Panic when the panic-window demand reaches this multiple of the ready replicas (2 = 200%).
    public var panicThreshold: Double
    /// At most `ceil(rate x ready)` replicas after one decision.
    public var maxScaleUpRate: Double
    /// At least `floor(ready / rate)` replicas after one decision.
    public var maxScaleDownRate: Double
    public var stableWindow: Duration
    public var panicWindow: Duration
    /// Keep the highest decision of this period; zero disables the delay.
    public var scaleDownDelay: Duration
    public var initialScale: Int
    /// The least number of replicas to start when scaling up from zero; values below 2 do nothing.
    public var activationScale: Int
    /// False while the target receives no traffic from its route (for example an old release).
    public var reachable: Bool
    public var aggregation: AggregationAlgorithm
    /// Which rules decide. The memberwise default is the KPA, the rules this spec's fields come
    /// from; a policy resolved from annotations defaults to Thaw's (`TargetPolicy`).
    public var policy: ScalingPolicyKind
    /// How long a replica takes to load, until starts have been measured (Thaw's policy only).
    public var loadTime: Duration?

    public init(
        metric: MetricKind = .concurrency,
        targetValue: Double = 70,
        totalValue: Double = 100,
        targetBurstCapacity: Double = 211,
        activatorCapacity: Double = 100,
        panicThreshold: Double = 2,
        maxScaleUpRate: Double = 1000,
        maxScaleDownRate: Double = 2,
        stableWindow: Duration = .seconds(60),
        panicWindow: Duration = .seconds(6),
        scaleDownDelay: Duration = .zero,
        initialScale: Int = 1,
        activationScale: Int = 0,
        reachable: Bool = true,
        aggregation: AggregationAlgorithm = .linear,
        policy: ScalingPolicyKind = .kpa,
        loadTime: Duration? = nil
    ) {
        self.policy = policy
        self.loadTime = loadTime
        self.metric = metric
        self.targetValue = targetValue
        self.totalValue = totalValue
        self.targetBurstCapacity = targetBurstCapacity
        self.activatorCapacity = activatorCapacity
        self.panicThreshold = panicThreshold
        self.maxScaleUpRate = maxScaleUpRate
        self.maxScaleDownRate = maxScaleDownRate
        self.stableWindow = stableWindow
        self.panicWindow = panicWindow
        self.scaleDownDelay = scaleDownDelay
        self.initialScale = initialScale
        self.activationScale = activationScale
        self.reachable = reachable
        self.aggregation = aggregation
    }

    /// The excess burst capacity a target has before its first decision: it starts with
    /// `initialScale` replicas and no load. Negative means the activator stays in the path.
    public var initialExcessBurstCapacity: Int {
        switch targetBurstCapacity {
        case -1, 0: return Int(targetBurstCapacity)
        default: return Int(clampingToInt32: Double(initialScale) * totalValue - targetBurstCapacity)
        }
    }

    /// How many activator instances should share this target's traffic (at least 2 for availability).
    public func activatorsNeeded(readyReplicas: Int) -> Int {
        let minimum = 2
        if targetBurstCapacity == 0 { return minimum }
        let toCover = Double(readyReplicas) * totalValue + max(targetBurstCapacity, 0)
        return max(minimum, Int(clampingToInt32: (toCover / activatorCapacity).rounded(.up)))
    }
}

extension Int {
    /// Converts like Go's `int32(float)` would for in-range values, without trapping outside them.
    init(clampingToInt32 value: Double) {
        if value.isNaN { self = 0; return }
        self = Int(Swift.min(Swift.max(value, Double(Int32.min)), Double(Int32.max)))
    }
}
