/// The outcome of one decision for one target.
public struct ScaleDecision: Sendable, Equatable {
    /// Replicas wanted before min/max bounds and scale-to-zero gating are applied.
    public var desired: Int
    /// Ready capacity minus the burst capacity to keep minus panic-window demand; negative means
    /// the activator must stay in the request path. -1 when the target burst capacity is unlimited.
    public var excessBurstCapacity: Int
    public var panicking: Bool
    public var stable: Double
    public var panic: Double

    public init(desired: Int, excessBurstCapacity: Int, panicking: Bool, stable: Double, panic: Double) {
        self.desired = desired
        self.excessBurstCapacity = excessBurstCapacity
        self.panicking = panicking
        self.stable = stable
        self.panic = panic
    }
}

/// Decides how many replicas one target needs, the way Knative's pod autoscaler does.
///
/// It is a value with no I/O and no clock of its own: callers pass the ready count, the window
/// averages and the time, so every rule is reproducible in a unit test and in `thaw simulate`.
/// The rules, in order: rate-limit the stable and panic estimates against the ready count; apply
/// the activation scale; enter or extend panic when panic demand reaches the threshold, and leave
/// it only after a whole stable window below it; never scale down while panicking; hold the highest
/// decision of the scale-down delay; compute the excess burst capacity from the panic value.
public struct Decider: Sendable {
    public private(set) var spec: DeciderSpec
    /// When demand last crossed the panic threshold; nil in stable mode.
    private var panicStart: Timestamp?
    private var maxPanicReplicas: Int
    private var delayWindow: RunningMaxWindow?

    /// Creates a decider. With more than one ready replica it starts in panic mode holding the
    /// current scale, so a restarted autoscaler never scales a busy target down before it has data.
    public init(spec: DeciderSpec, readyReplicas: Int, now: Timestamp) {
        self.spec = spec
        self.maxPanicReplicas = readyReplicas
        self.panicStart = readyReplicas > 1 ? now : nil
        self.delayWindow = Self.makeDelayWindow(spec.scaleDownDelay)
    }

    public var isPanicking: Bool { panicStart != nil }

    /// Replaces the spec. Unlike Knative, a changed scale-down delay takes effect at once (with an
    /// empty delay window) instead of only after the decider is recreated.
    public mutating func update(spec newSpec: DeciderSpec) {
        if newSpec.scaleDownDelay != spec.scaleDownDelay {
            delayWindow = Self.makeDelayWindow(newSpec.scaleDownDelay)
        }
        spec = newSpec
    }

    /// Decides from the aggregated windows, or returns nil when there is no data to decide on.
    ///
    /// An empty stable window is "no data" unless the target burst capacity is -1: then the
    /// activator is always in the path and reports every request, so silence really means zero.
    public mutating func decide(readyReplicas: Int, metrics: MetricAggregator, now: Timestamp) -> ScaleDecision? {
        if let averages = metrics.averages(for: spec.metric, at: now) {
            return decide(readyReplicas: readyReplicas, averages: averages, now: now)
        }
        guard spec.targetBurstCapacity == -1 else { return nil }
        return decide(readyReplicas: readyReplicas, averages: WindowAverages(stable: 0, panic: 0), now: now)
    }

    /// Decides from given stable and panic values.
    public mutating func decide(readyReplicas: Int, averages: WindowAverages, now: Timestamp) -> ScaleDecision {
        let observedReady = max(0, readyReplicas)
        let ready = Double(max(1, observedReady))

        let maxScaleUp = (spec.maxScaleUpRate * ready).rounded(.up)
        let maxScaleDown = spec.reachable ? (ready / spec.maxScaleDownRate).rounded(.down) : 0

        let stableEstimate = (averages.stable / spec.targetValue).rounded(.up)
        let panicEstimate = (averages.panic / spec.targetValue).rounded(.up)

        var stableReplicas = Int(clampingToInt32: min(max(stableEstimate, maxScaleDown), maxScaleUp))
        var panicReplicas = Int(clampingToInt32: min(max(panicEstimate, maxScaleDown), maxScaleUp))

        if spec.activationScale > 1 {
            if stableEstimate > 0, spec.activationScale > stableReplicas { stableReplicas = spec.activationScale }
            if panicEstimate > 0, spec.activationScale > panicReplicas { panicReplicas = spec.activationScale }
        }

        if crossesPanicThreshold(panic: averages.panic, readyReplicas: observedReady) {
            panicStart = now
        } else if let start = panicStart, start + spec.stableWindow < now {
            panicStart = nil
            maxPanicReplicas = 0
        }

        var desired = stableReplicas
        if panicStart != nil {
            desired = max(desired, panicReplicas)
            maxPanicReplicas = max(maxPanicReplicas, desired)
            desired = maxPanicReplicas
        }

        if spec.reachable, delayWindow != nil {
            delayWindow!.record(desired, at: now)
            desired = delayWindow!.current
        }

        return ScaleDecision(
            desired: desired,
            excessBurstCapacity: excessBurstCapacity(readyReplicas: observedReady, panic: averages.panic),
            panicking: panicStart != nil,
            stable: averages.stable,
            panic: averages.panic)
    }

    /// Whether panic-window demand is at the panic threshold: the unclamped panic estimate against
    /// the ready count (at least one).
    public func crossesPanicThreshold(panic: Double, readyReplicas: Int) -> Bool {
        (panic / spec.targetValue).rounded(.up) / Double(max(1, readyReplicas)) >= spec.panicThreshold
    }

    /// Uses the observed ready count (not at least one) and the panic value, as Knative does.
    func excessBurstCapacity(readyReplicas: Int, panic: Double) -> Int {
        let tbc = spec.targetBurstCapacity
        if tbc == 0 { return 0 }
        if tbc < 0 { return -1 }
        return Int(clampingToInt32: (Double(readyReplicas) * spec.totalValue - tbc - panic).rounded(.down))
    }

    private static func makeDelayWindow(_ delay: Duration) -> RunningMaxWindow? {
        delay > .zero ? RunningMaxWindow(duration: delay, granularity: .seconds(2)) : nil
    }
}
