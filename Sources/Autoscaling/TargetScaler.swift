/// One target's whole decision loop with no I/O: reports into the windows, the decider, the replica
/// planner, and the rules for when to decide early and when not to decide at all.
///
/// The autoscaler daemon owns one per target and calls it from its intake and its tick; `thaw
/// simulate` and the unit tests drive it with made-up times, so the daemon's behaviour is the
/// behaviour tested here.
public struct TargetScaler: Sendable {
    public let spec: DeciderSpec
    public private(set) var metrics: MetricAggregator
    public private(set) var decider: Decider
    public private(set) var planner: ReplicaPlanner
    /// The newest decision that had data behind it.
    public private(set) var latest: ScaleDecision?
    /// When a replica (not the activator) last reported; replicas report every second, idle or not.
    public private(set) var lastReplicaReport: Timestamp?
    /// Since when the target has had ready replicas; nil while it has none.
    private var readySince: Timestamp?
    /// Replica reports older than this, with replicas ready, mean the data is missing, not zero.
    public let staleAfter: Duration
    /// A second signal (GPU utilization next to concurrency or rps): its own decider, the larger
    /// desired count wins.
    public private(set) var secondary: Decider?
    /// When a value of a pushed signal (the collector's) last arrived, by metric.
    public private(set) var lastPushed: [MetricKind: Timestamp] = [:]
    /// Pushed values older than this mean the signal is missing: its decider then holds the scale.
    public let pushedStaleAfter: Duration
    /// Failed reads of a pushed signal since its last value, by metric (the collector reports each).
    public private(set) var consecutiveFailures: [MetricKind: Int] = [:]
    /// The replica count to run once a pushed signal has failed often enough; nil holds the scale.
    public let fallback: SignalFallback?

    public init(spec: DeciderSpec, replicas: ReplicaPolicy, secondary: DeciderSpec? = nil, fallback: SignalFallback? = nil,
                readyReplicas: Int = 0, now: Timestamp, staleAfter: Duration = .seconds(4), pushedStaleAfter: Duration = .seconds(20)) {
        self.spec = spec
        self.fallback = fallback
        self.staleAfter = staleAfter
        self.pushedStaleAfter = pushedStaleAfter
        metrics = MetricAggregator(spec: spec)
        decider = Decider(spec: spec, readyReplicas: readyReplicas, now: now)
        self.secondary = secondary.map { Decider(spec: $0, readyReplicas: readyReplicas, now: now) }
        planner = ReplicaPlanner(policy: replicas, now: now)
    }

    /// Records a per-target total pushed by the collector (the sum over replicas of, say, GPU
    /// utilization percent) for `metric`.
    public mutating func record(_ value: Double, for metric: MetricKind, at time: Timestamp) {
        metrics.record(value, for: metric, at: time)
        lastPushed[metric] = max(lastPushed[metric] ?? time, time)
        consecutiveFailures[metric] = 0
    }

    /// Records that the collector could not read `metric` (source down, nothing selected): the
    /// signal counts as missing at once, so the scale is held rather than lowered on old values.
    ///
    /// An `empty` answer (the source works, no replica has a value) with no replica ready is what a
    /// target at zero looks like: it is not counted, or the fallback would wake an idle target.
    /// Returns whether it counted.
    @discardableResult
    public mutating func recordFailure(for metric: MetricKind, empty: Bool = false, readyReplicas: Int) -> Bool {
        if empty, readyReplicas == 0 { return false }
        consecutiveFailures[metric, default: 0] += 1
        return true
    }

    /// True when `metric` is pushed and is failing, or its newest value is older than `pushedStaleAfter`.
    private func pushedSignalMissing(_ metric: MetricKind, now: Timestamp) -> Bool {
        guard let last = lastPushed[metric], consecutiveFailures[metric, default: 0] == 0 else { return true }
        return now - last > pushedStaleAfter
    }

    /// The fallback replica count when `metric` has failed `afterFailures` times in a row.
    public func fallbackReplicas(for metric: MetricKind) -> Int? {
        guard let fallback, consecutiveFailures[metric, default: 0] >= fallback.afterFailures else { return nil }
        return fallback.replicas
    }

    /// Records one reporter's period. Returns true when the target should be decided at once: the
    /// panic-window demand has just crossed the panic threshold (a burst acts now, not at the next tick).
    public mutating func record(_ stat: RequestStat, fromReplica: Bool, at time: Timestamp, readyReplicas: Int) -> Bool {
        metrics.record(stat, at: time)
        if fromReplica { lastReplicaReport = max(lastReplicaReport ?? time, time) }
        return !decider.isPanicking && overPanicThreshold(readyReplicas: readyReplicas, at: time)
    }

    /// Requests are waiting for a target with no ready replica. The waiting requests count as demand
    /// at once (the activator's own report for this second follows within a second), so the decision
    /// taken right now already asks for replicas. Returns true when the target should be decided now.
    public mutating func poke(queueLength: Int, readyReplicas: Int, at time: Timestamp) -> Bool {
        let waiting = Double(max(1, queueLength))
        metrics.record(RequestStat(averageConcurrency: waiting, requestCount: waiting), at: time)
        return readyReplicas == 0 || overPanicThreshold(readyReplicas: readyReplicas, at: time)
    }

    private func overPanicThreshold(readyReplicas: Int, at time: Timestamp) -> Bool {
        guard let averages = metrics.averages(for: spec.metric, at: time) else { return false }
        let panicEstimate = (averages.panic / spec.targetValue).rounded(.up)
        return panicEstimate / Double(max(1, readyReplicas)) >= spec.panicThreshold
    }

    /// What one step decided and planned.
    public struct Step: Sendable, Equatable {
        /// The decision taken now; nil when there was no data, the data is missing (`holding`), or the
        /// fallback applies.
        public var decision: ScaleDecision?
        public var plan: ReplicaPlan
        /// Replicas are ready but have stopped reporting: the scale is held, never lowered.
        public var holding: Bool
        /// A pushed signal has failed past its threshold: the replica count wanted in its place (the
        /// fallback count, or the primary signal's desired count when that is larger). `decision`
        /// is then nil.
        public var fallbackWant: Int? = nil
    }

    /// Decides and plans. `activatorInPath` says whether the activator routes this target's
    /// traffic now (always, in local mode).
    public mutating func step(readyReplicas: Int, activatorInPath: Bool, now: Timestamp) -> Step {
        if readyReplicas > 0 {
            if readySince == nil { readySince = now }
        } else {
            readySince = nil
        }
        if let silence = missingDataFor(readyReplicas: readyReplicas, now: now) {
            let plan = ReplicaPlan(replicas: nil, want: planner.lastWant, activatorMode: .proxy, activity: planner.activity,
                                   recheckAfter: nil,
                                   reason: "holding the scale: no stats from the \(readyReplicas) ready replica(s) for \(silence)")
            return Step(decision: nil, plan: plan, holding: true)
        }
        var decision: ScaleDecision?
        var fallbackWant: Int?
        if spec.metric == .gpu, readyReplicas == 0, let waiting = metrics.averages(for: .concurrency, at: now), waiting.panic > 0 {
            // A target with no replica has no GPU to measure: requests waiting in the activator (a
            // poke, its reports) are the only sign of demand, and they wake it (never below what was
            // last wanted, should every replica have died).
            decision = ScaleDecision(desired: max(1, spec.activationScale, latest?.desired ?? 0), excessBurstCapacity: -1,
                                     panicking: false, stable: 0, panic: 0)
        } else if spec.metric == .gpu, pushedSignalMissing(.gpu, now: now) {
            // The collector's signal is missing (Prometheus down, nothing selected): no decision, so
            // the planner keeps the current scale, unless the fallback applies.
            decision = nil
            fallbackWant = fallbackReplicas(for: .gpu)
        } else {
            decision = decider.decide(readyReplicas: readyReplicas, metrics: metrics, now: now)
        }
        if var second = secondary {
            if !pushedSignalMissing(second.spec.metric, now: now),
               let averages = metrics.averages(for: second.spec.metric, at: now) {
                let other = second.decide(readyReplicas: readyReplicas, averages: averages, now: now)
                secondary = second
                if var combined = decision {
                    combined.desired = max(combined.desired, other.desired)
                    combined.panicking = combined.panicking || other.panicking
                    decision = combined
                } else {
                    decision = other
                }
            } else if let replicas = fallbackReplicas(for: second.spec.metric) {
                // The second signal has failed past its threshold: the fallback count is its demand.
                fallbackWant = max(replicas, decision?.desired ?? 0)
            } else if var combined = decision, readyReplicas > 0 {
                // The second signal is missing: it holds the current scale rather than letting the
                // first signal alone scale in.
                combined.desired = max(combined.desired, readyReplicas)
                decision = combined
            }
        }
        if let decision { latest = decision }
        if let fallbackWant {
            let plan = planner.plan(desired: fallbackWant, excessBurstCapacity: latest?.excessBurstCapacity ?? spec.initialExcessBurstCapacity,
                                    readyReplicas: readyReplicas, activatorInPath: activatorInPath, now: now)
            return Step(decision: nil, plan: plan, holding: false, fallbackWant: fallbackWant)
        }
        let plan = planner.plan(desired: latest?.desired,
                                excessBurstCapacity: latest?.excessBurstCapacity ?? spec.initialExcessBurstCapacity,
                                readyReplicas: readyReplicas, activatorInPath: activatorInPath, now: now)
        return Step(decision: decision, plan: plan, holding: false)
    }

    /// How long ready replicas have been silent, when that is longer than `staleAfter`.
    private func missingDataFor(readyReplicas: Int, now: Timestamp) -> Duration? {
        guard readyReplicas > 0, let readySince, now - readySince > staleAfter else { return nil }
        let since = max(lastReplicaReport ?? readySince, readySince)
        let silence = now - since
        return silence > staleAfter ? silence : nil
    }
}
