/// One target's whole decision loop with no I/O: reports into the windows, the decider, the replica
/// planner, and the rules for when to decide early and when not to decide at all.
///
/// The autoscaler daemon owns one per target and calls it from its intake and its tick;
/// `thaw simulate --replay` drives it the same way on simulated time, and the unit tests with
/// made-up times, so the daemon's behaviour is the behaviour replayed and tested here.
/// Its calls say what they changed (a hold starting or ending, a signal failing, a fallback
/// starting, a signal recovering) and whether to decide now, so a caller acts on what it is told
/// instead of comparing the scaler's state before and after each call.
/// Each signal is read as decided, missing or falling back, and the readings are combined in one
/// place: the largest demand wins, a missing signal never lowers the scale, and with no replica
/// ready, requests waiting in the activator wake the target whatever it scales on.
public struct TargetScaler: Sendable {
    public let spec: DeciderSpec
    public private(set) var metrics: MetricAggregator
    public private(set) var decider: Decider
    public private(set) var planner: ReplicaPlanner
    /// The newest decision that had data behind it.
    public private(set) var latest: ScaleDecision?
    /// The newest desired count a step planned with (a decision, a fallback, or a wake from zero):
    /// while a signal is missing, the scale never goes below it.
    public private(set) var wanted: Int?
    /// When a replica (not the activator) last reported; replicas report every second, idle or not.
    public private(set) var lastReplicaReport: Timestamp?
    /// Since when the target has had ready replicas; nil while it has none.
    private var readySince: Timestamp?
    /// Whether the newest step held the scale for missing replica data.
    private var holding = false
    /// Replica reports older than this, with replicas ready, mean the data is missing, not zero.
    public let staleAfter: Duration
    /// A second signal (GPU utilization next to concurrency or rps): its own decider, the larger
    /// desired count wins.
    public private(set) var secondary: Decider?
    /// When a value of a pushed signal (the collector's) last arrived, by metric.
    public private(set) var lastPushed: [MetricKind: Timestamp] = [:]
    /// Pushed values older than this mean the signal is missing: its decider then holds the scale.
    public let pushedStaleAfter: Duration
    /// Failed reads of a pushed signal since its last value, and the newest reason, by metric (the
    /// collector reports each).
    public private(set) var failures: [MetricKind: SignalFailures] = [:]

    public struct SignalFailures: Sendable, Equatable {
        public var count = 0
        public var reason: String?
    }

    public var consecutiveFailures: [MetricKind: Int] { failures.mapValues(\.count) }

    /// Why a pushed signal is failing now, for `/status`; nil while every signal has values.
    public var failureReason: String? {
        failures.sorted { $0.key.name < $1.key.name }.lazy.compactMap(\.value.reason).first
    }
    /// The replica count to run once a pushed signal has failed often enough; nil holds the scale.
    public let fallback: SignalFallback?
    /// Thaw's load-aware rule, which sets the primary signal's desired count; nil under `policy: kpa`.
    public private(set) var loadAware: LoadAwareDecider?
    /// The replica count last set, and the ready count last seen: starts are timed between them.
    private var askedReplicas: Int
    private var lastReady: Int

    public init(spec: DeciderSpec, replicas: ReplicaPolicy, secondary: DeciderSpec? = nil, fallback: SignalFallback? = nil,
                readyReplicas: Int = 0, now: Timestamp, staleAfter: Duration = .seconds(4), pushedStaleAfter: Duration = .seconds(20),
                adopting adopted: Int? = nil) {
        self.spec = spec
        self.fallback = fallback
        self.staleAfter = staleAfter
        self.pushedStaleAfter = pushedStaleAfter
        metrics = MetricAggregator(spec: spec)
        decider = Decider(spec: spec, readyReplicas: readyReplicas, now: now)
        self.secondary = secondary.map { Decider(spec: $0, readyReplicas: readyReplicas, now: now) }
        planner = ReplicaPlanner(policy: replicas, now: now, adopting: adopted)
        loadAware = spec.policy == .thaw ? LoadAwareDecider(spec: spec) : nil
        askedReplicas = adopted ?? readyReplicas
        lastReady = readyReplicas
    }

    /// What a collector report changed about a pushed signal.
    public enum SignalChange: Sendable, Equatable {
        /// A failed read counted: the signal has failed `inARow` times since its last value. The
        /// first failure is when it starts holding the scale.
        case failed(MetricKind, reason: String, inARow: Int)
        /// This failure reached the fallback's threshold: the signal now wants `replicas`.
        case fallbackStarted(MetricKind, replicas: Int)
        /// A value arrived for a signal that was failing: it is decided on again.
        case recovered(MetricKind)
    }

    /// Records a per-target total pushed by the collector (the sum over replicas of, say, GPU
    /// utilization percent) for `metric`. Says `recovered` when the signal was failing.
    @discardableResult
    public mutating func record(_ value: Double, for metric: MetricKind, at time: Timestamp) -> [SignalChange] {
        metrics.record(value, for: metric, at: time)
        lastPushed[metric] = max(lastPushed[metric] ?? time, time)
        let wasFailing = failures[metric, default: SignalFailures()].count > 0
        failures[metric] = SignalFailures()
        return wasFailing ? [.recovered(metric)] : []
    }

    /// Records that the collector could not read `metric` (source down, nothing selected): the
    /// signal counts as missing at once, so the scale is held rather than lowered on old values.
    ///
    /// An `empty` answer (the source works, no replica has a value) with no replica ready is what a
    /// target at zero looks like: it is not counted, or the fallback would wake an idle target.
    /// Returns nothing when it did not count; else `failed`, and `fallbackStarted` when this
    /// failure is the one that reaches the fallback's threshold.
    @discardableResult
    public mutating func recordFailure(for metric: MetricKind, reason: String? = nil, empty: Bool = false,
                                       readyReplicas: Int) -> [SignalChange] {
        if empty, readyReplicas == 0 { return [] }
        let wasFallingBack = fallbackReplicas(for: metric) != nil
        let reason = reason ?? "the collector could not read it"
        let inARow = failures[metric, default: SignalFailures()].count + 1
        failures[metric] = SignalFailures(count: inARow, reason: reason)
        var changes: [SignalChange] = [.failed(metric, reason: reason, inARow: inARow)]
        if !wasFallingBack, let replicas = fallbackReplicas(for: metric) {
            changes.append(.fallbackStarted(metric, replicas: replicas))
        }
        return changes
    }

    /// True when `metric` is pushed and is failing, or its newest value is older than `pushedStaleAfter`.
    private func pushedSignalMissing(_ metric: MetricKind, now: Timestamp) -> Bool {
        guard let last = lastPushed[metric], failures[metric, default: SignalFailures()].count == 0 else { return true }
        return now - last > pushedStaleAfter
    }

    /// The fallback replica count when `metric` has failed `afterFailures` times in a row.
    public func fallbackReplicas(for metric: MetricKind) -> Int? {
        guard let fallback, failures[metric, default: SignalFailures()].count >= fallback.afterFailures else { return nil }
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

    /// Request reports never move a pushed metric, so only a request-driven one can cross.
    private func overPanicThreshold(readyReplicas: Int, at time: Timestamp) -> Bool {
        guard !spec.metric.isPushed, let averages = metrics.averages(for: spec.metric, at: time) else { return false }
        return decider.crossesPanicThreshold(panic: averages.panic, readyReplicas: readyReplicas)
    }

    /// What one step decided and planned.
    public struct Step: Sendable, Equatable {
        /// The decision taken now (its desired count is the larger of both signals'); nil when no
        /// signal had data, or the data is missing (`holding`).
        public var decision: ScaleDecision?
        public var plan: ReplicaPlan
        /// Replicas are ready but have stopped reporting: the scale is held, never lowered.
        public var holding: Bool
        /// A pushed signal has failed past its threshold: the replica count wanted with its fallback
        /// in force (the fallback count, or another signal's desired count when that is larger).
        public var fallbackWant: Int? = nil
        /// Set on the step that starts or ends a hold, so the caller says so once, not on every held step.
        public var holdChange: HoldChange? = nil
        /// What Thaw's policy made of this step; nil under `policy: kpa` or when the step held.
        public var explanation: LoadAwareDecider.Explanation? = nil
    }

    /// How a step changed the hold on missing replica data.
    public enum HoldChange: Sendable, Equatable {
        /// Ready replicas have stopped reporting: from this step on the scale is held.
        case started
        /// Replica stats arrive again: this step decides normally after a hold.
        case ended
    }

    /// What one signal says in a step.
    private enum Reading {
        case decided(ScaleDecision)
        /// No data, or a pushed signal that is failing or stale: it must not lower the scale.
        case missing
        /// A pushed signal failing past its threshold: its demand is the fallback count.
        case fallback(Int)
    }

    /// Reads one signal: a pushed one that is missing is never decided on old values.
    private func reading(of decider: inout Decider, readyReplicas: Int, now: Timestamp) -> Reading {
        let metric = decider.spec.metric
        if metric.isPushed, pushedSignalMissing(metric, now: now) {
            return fallbackReplicas(for: metric).map(Reading.fallback) ?? .missing
        }
        return decider.decide(readyReplicas: readyReplicas, metrics: metrics, now: now).map(Reading.decided) ?? .missing
    }

    /// Decides and plans. `activatorInPath` says whether the activator routes this target's
    /// traffic now (always, in local mode).
    /// `waitingRequests`: what the activator holds for the target now (it keeps it off zero).
    public mutating func step(readyReplicas: Int, activatorInPath: Bool, waitingRequests: Int = 0, now: Timestamp) -> Step {
        if readyReplicas > 0 {
            if readySince == nil { readySince = now }
        } else {
            readySince = nil
        }
        let silence = missingDataFor(readyReplicas: readyReplicas, now: now)
        let holdsNow = silence != nil
        let holdChange: HoldChange? = holdsNow == holding ? nil : (holdsNow ? .started : .ended)
        holding = holdsNow
        if let silence {
            let plan = planner.hold(reason: "holding the scale: no stats from the \(readyReplicas) ready replica(s) for \(silence)")
            return Step(decision: nil, plan: plan, holding: true, holdChange: holdChange)
        }
        if readyReplicas > lastReady { loadAware?.becameReady(readyReplicas - lastReady, at: now) }
        lastReady = readyReplicas
        var primary = reading(of: &decider, readyReplicas: readyReplicas, now: now)
        var explanation: LoadAwareDecider.Explanation?
        if var aware = loadAware {
            (primary, explanation) = decideLoadAware(&aware, kpa: primary, readyReplicas: readyReplicas, now: now)
            loadAware = aware
        }
        var readings = [primary]
        if var second = secondary {
            readings.append(reading(of: &second, readyReplicas: readyReplicas, now: now))
            secondary = second
        }
        // The largest demand wins; a missing signal keeps the scale from going below the last want.
        var decision: ScaleDecision?
        var desired: Int?
        var fallbackWant: Int?
        var missing = false
        for reading in readings {
            switch reading {
            case .decided(let decided):
                desired = max(desired ?? 0, decided.desired)
                if var combined = decision {
                    combined.panicking = combined.panicking || decided.panicking
                    decision = combined
                } else {
                    decision = decided
                }
            case .fallback(let replicas):
                desired = max(desired ?? 0, replicas)
                fallbackWant = replicas
            case .missing:
                missing = true
            }
        }
        if missing, let wanted { desired = max(desired ?? wanted, wanted) }
        // With no replica ready, a signal measured on replicas (GPU) has nothing to say: requests
        // waiting in the activator are the demand, and they wake the target.
        var excessBurstCapacity = decision?.excessBurstCapacity ?? latest?.excessBurstCapacity ?? spec.initialExcessBurstCapacity
        if readyReplicas == 0, let waiting = metrics.averages(for: .concurrency, at: now), waiting.panic > 0 {
            desired = max(desired ?? 0, max(1, spec.activationScale))
            excessBurstCapacity = min(excessBurstCapacity, decider.excessBurstCapacity(readyReplicas: 0, panic: waiting.panic))
        }
        if let combined = desired {
            wanted = combined
            decision?.desired = combined
            if fallbackWant != nil { fallbackWant = combined }
        }
        if let decision { latest = decision }
        var plan = planner.plan(desired: wanted, excessBurstCapacity: excessBurstCapacity,
                                readyReplicas: readyReplicas, activatorInPath: activatorInPath, waitingRequests: waitingRequests, now: now)
        if let target = plan.replicas, target != askedReplicas {
            loadAware?.asked(target - askedReplicas, at: now)
            askedReplicas = target
        }
        if let explanation { plan.reason += "; " + explanation.reason }
        return Step(decision: decision, plan: plan, holding: false, fallbackWant: fallbackWant, holdChange: holdChange,
                    explanation: explanation)
    }

    /// Thaw's policy replaces the KPA's desired count with its own, on the same averages; with no
    /// data at all and no replica (a target idle at zero) it still decides, on zero demand, so it
    /// can pre-warm. A target with replicas and no data yet (just adopted) is left as it is.
    private func decideLoadAware(_ aware: inout LoadAwareDecider, kpa: Reading, readyReplicas: Int,
                                 now: Timestamp) -> (Reading, LoadAwareDecider.Explanation?) {
        let current = max(askedReplicas, readyReplicas)
        let arrivals = metrics.averages(for: .rps, at: now)?.panic ?? 0
        switch kpa {
        case .decided(var decision):
            let explanation = aware.decide(demand: decision.panic, steady: decision.stable, arrivals: arrivals, readyReplicas: readyReplicas, current: current, now: now)
            decision.desired = explanation.desired
            decision.panicking = explanation.burst
            return (.decided(decision), explanation)
        case .missing where !spec.metric.isPushed && readyReplicas == 0:
            let explanation = aware.decide(demand: 0, steady: 0, arrivals: arrivals, readyReplicas: readyReplicas, current: current, now: now)
            let decision = ScaleDecision(desired: explanation.desired,
                                         excessBurstCapacity: decider.excessBurstCapacity(readyReplicas: readyReplicas, panic: 0),
                                         panicking: false, stable: 0, panic: 0)
            return (.decided(decision), explanation)
        default:
            return (kpa, nil)
        }
    }

    /// How long ready replicas have been silent, when that is longer than `staleAfter`.
    private func missingDataFor(readyReplicas: Int, now: Timestamp) -> Duration? {
        guard readyReplicas > 0, let readySince, now - readySince > staleAfter else { return nil }
        let since = max(lastReplicaReport ?? readySince, readySince)
        let silence = now - since
        return silence > staleAfter ? silence : nil
    }
}
