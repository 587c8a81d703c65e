import Autoscaling
import Foundation
import Logging
import ScaleTargets
import TrafficStats

/// Every target's scaler, fed by stat and poke intake, the periodic tick and the driver's view of
/// replicas, and acting through the driver.
///
/// One actor serialises all of it, so a decision always sees every report that arrived before it.
/// The decision itself is the pure `TargetScaler`; this type only routes inputs and applies results.
public actor ScalingLoop {
    private struct Entry {
        var scaler: TargetScaler
        let metrics: AutoscalerMetrics.Target
        var requested: Int
        var state: TargetState
        var lastStep: TargetScaler.Step?
        var queueLength = 0
        var queueReportedAt: Timestamp?
    }

    private var targets: [String: Entry] = [:]
    /// The newest poke-to-decision times, for `thaw demo` and benchmarks (the metric has them as a histogram).
    public private(set) var recentPokeLatencies: [Duration] = []
    private let driver: any ReplicaDriver
    private let metrics: AutoscalerMetrics
    private let logger: Logger
    private let clock: @Sendable () -> Timestamp

    /// Wall-clock time: reports carry Unix timestamps, and the windows key buckets by them.
    public static let wallClock: @Sendable () -> Timestamp = { Timestamp(seconds: Date().timeIntervalSince1970) }

    public init(targets: [ScaledTarget], driver: any ReplicaDriver, metrics: AutoscalerMetrics, logger: Logger,
                clock: @escaping @Sendable () -> Timestamp = ScalingLoop.wallClock) {
        self.driver = driver
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        let now = clock()
        for target in targets {
            let scaler = TargetScaler(spec: target.policy.decider, replicas: target.policy.replicas,
                                      secondary: target.policy.secondary, fallback: target.policy.fallback, now: now)
            let initial = scaler.planner.initialReplicas
            self.targets[target.name] = Entry(scaler: scaler, metrics: metrics.target(target.name), requested: initial,
                                              state: TargetState(name: target.name))
            self.targets[target.name]!.metrics.targetPerReplica.set(to: target.policy.decider.targetValue)
        }
    }

    /// Asks the driver for every target's initial scale; called once before anything else.
    public func start() {
        for (name, entry) in targets.sorted(by: { $0.key < $1.key }) {
            driver.setReplicas(entry.requested, of: name)
            entry.metrics.requested.set(to: Double(entry.requested))
            logger.info("target starts", metadata: ["target": "\(name)", "replicas": "\(entry.requested)"])
        }
    }

    /// Records a batch; returns the names of targets it does not know.
    public func ingest(_ batch: StatBatch) -> [String] {
        let now = clock()
        var unknown: [String] = []
        for stat in batch.stats {
            guard let entry = targets[stat.target] else {
                unknown.append(stat.target)
                metrics.statsRejected.increment()
                continue
            }
            metrics.statsReceived.increment()
            guard let time = Self.reportTime(stat.timestamp, of: entry, now: now) else {
                metrics.statsRejected.increment()
                continue
            }
            let request = RequestStat(averageConcurrency: stat.averageConcurrency, requestCount: stat.requestCount,
                                      averageProxiedConcurrency: stat.averageProxiedConcurrency,
                                      proxiedRequestCount: stat.proxiedRequestCount)
            let fromReplica = stat.source != ProxyHeaders.activator
            let ready = targets[stat.target]!.state.ready.count
            let urgent = targets[stat.target]!.scaler.record(request, fromReplica: fromReplica, at: time, readyReplicas: ready)
            if !fromReplica {
                targets[stat.target]!.queueLength = stat.queueLength
                targets[stat.target]!.queueReportedAt = now
            }
            if urgent { decide(stat.target, trigger: "panic threshold crossed", now: now) }
        }
        return unknown
    }

    /// Records per-target values and failures pushed by the collector; returns the targets it does not know.
    public func ingest(_ batch: MetricBatch) -> [String] {
        let now = clock()
        var unknown: [String] = []
        for value in batch.values {
            let metric = MetricKind(value.metric)
            guard value.value.isFinite else {
                unknown.append(value.target)
                metrics.statsRejected.increment()
                continue
            }
            guard let (entry, time) = collectorEntry(value.target, metric: metric, timestamp: value.timestamp, now: now, unknown: &unknown) else {
                continue
            }
            if entry.scaler.failureReason != nil {
                logger.notice("the collector reads the signal again; deciding on it", metadata: ["target": "\(value.target)", "metric": "\(metric.name)"])
            }
            targets[value.target]!.scaler.record(value.value, for: metric, at: time)
        }
        for failure in batch.failures {
            let metric = MetricKind(failure.metric)
            guard let (entry, _) = collectorEntry(failure.target, metric: metric, timestamp: failure.timestamp, now: now, unknown: &unknown) else {
                continue
            }
            let wasFallingBack = entry.scaler.fallbackReplicas(for: metric) != nil
            guard targets[failure.target]!.scaler.recordFailure(for: metric, reason: failure.reason, empty: failure.empty,
                                                                readyReplicas: entry.state.ready.count) else {
                continue
            }
            entry.metrics.signalFailures.increment()
            if entry.scaler.failureReason == nil {
                logger.warning("the collector cannot read the signal; holding the current scale for it", metadata: [
                    "target": "\(failure.target)", "metric": "\(metric.name)", "reason": "\(failure.reason)"])
            }
            if !wasFallingBack, let replicas = targets[failure.target]!.scaler.fallbackReplicas(for: metric) {
                logger.warning("the signal keeps failing; applying the fallback replica count", metadata: [
                    "target": "\(failure.target)", "metric": "\(metric.name)", "replicas": "\(replicas)"])
                decide(failure.target, trigger: "signal failing, fallback", now: now)
            }
        }
        return unknown
    }

    /// The entry a collector report is for and when it counts, when the target exists, scales on
    /// `metric`, and the report is recent enough. Counts the report as received or rejected; an
    /// unknown target or metric is added to `unknown`.
    private func collectorEntry(_ target: String, metric: MetricKind, timestamp: Double, now: Timestamp,
                                unknown: inout [String]) -> (Entry, Timestamp)? {
        guard let entry = targets[target], entry.scaler.spec.metric == metric || entry.scaler.secondary?.spec.metric == metric else {
            unknown.append(target)
            metrics.statsRejected.increment()
            return nil
        }
        guard let time = Self.reportTime(timestamp, of: entry, now: now) else {
            metrics.statsRejected.increment()
            return nil
        }
        metrics.statsReceived.increment()
        return (entry, time)
    }

    /// When a report counts. Reports go into the buckets of the seconds their sender measured, so a
    /// backlog replayed after an outage lands where it belongs rather than in one bucket. A stamp
    /// from the future (clock skew) counts as now; one older than the stable window can no longer
    /// matter and is dropped (nil).
    private static func reportTime(_ timestamp: Double, of entry: Entry, now: Timestamp) -> Timestamp? {
        guard timestamp.isFinite, timestamp >= now.seconds - entry.scaler.spec.stableWindow.secondsValue else { return nil }
        return Timestamp(seconds: min(timestamp, now.seconds))
    }

    /// Handles a poke; returns false when the target is unknown.
    public func poke(_ poke: Poke, arrived: ContinuousClock.Instant) -> Bool {
        guard targets[poke.target] != nil else { return false }
        metrics.pokes.increment()
        let now = clock()
        let previous = targets[poke.target]!
        let fresh = previous.queueReportedAt.map { now - $0 <= .seconds(2) } ?? false
        targets[poke.target]!.queueLength = fresh ? max(previous.queueLength, poke.queueLength) : poke.queueLength
        targets[poke.target]!.queueReportedAt = now
        let ready = targets[poke.target]!.state.ready.count
        if targets[poke.target]!.scaler.poke(queueLength: poke.queueLength, readyReplicas: ready, at: now) {
            decide(poke.target, trigger: "poke", now: now)
            let elapsed = ContinuousClock.now - arrived
            metrics.pokeToDecision.record(elapsed.secondsValue)
            recentPokeLatencies.append(elapsed)
            if recentPokeLatencies.count > 100 { recentPokeLatencies.removeFirst() }
            logger.debug("poke decided", metadata: ["target": "\(poke.target)", "after": "\(elapsed)"])
        }
        return true
    }

    /// The periodic decision for every target.
    public func tick() {
        let now = clock()
        for name in targets.keys.sorted() { decide(name, trigger: "tick", now: now) }
    }

    /// The driver's newest view of every target.
    public func driverUpdate(_ states: [TargetState]) {
        for state in states where targets[state.name] != nil {
            let previous = targets[state.name]!.state
            targets[state.name]!.state = state
            let metrics = targets[state.name]!.metrics
            metrics.actual.set(to: Double(state.endpoints.count))
            metrics.ready.set(to: Double(state.ready.count))
            if state.failure != previous.failure, let failure = state.failure {
                logger.error("target cannot come up", metadata: ["target": "\(state.name)", "failure": "\(failure)"])
            }
        }
    }

    private func decide(_ name: String, trigger: String, now: Timestamp) {
        guard var entry = targets[name] else { return }
        let ready = entry.state.ready.count
        let step = entry.scaler.step(readyReplicas: ready, activatorInPath: true, now: now)
        if step.holding, entry.lastStep?.holding != true {
            logger.warning("no stats from ready replicas; holding the current scale until they report again",
                           metadata: ["target": "\(name)", "ready": "\(ready)", "reason": "\(step.plan.reason)"])
        } else if !step.holding, entry.lastStep?.holding == true {
            logger.notice("stats arrive again; deciding normally", metadata: ["target": "\(name)"])
        }
        entry.lastStep = step
        if let decision = step.decision {
            entry.metrics.decisions.increment()
            entry.metrics.desired.set(to: Double(decision.desired))
            entry.metrics.stable.set(to: decision.stable)
            entry.metrics.panic.set(to: decision.panic)
            entry.metrics.panicMode.set(to: decision.panicking ? 1 : 0)
            entry.metrics.excessBurstCapacity.set(to: Double(decision.excessBurstCapacity))
        }
        entry.metrics.holding.set(to: step.holding ? 1 : 0)
        entry.metrics.fallback.set(to: step.fallbackWant == nil ? 0 : 1)
        if let replicas = step.plan.replicas, replicas != entry.requested {
            logger.info("scaling", metadata: [
                "target": "\(name)", "from": "\(entry.requested)", "to": "\(replicas)", "ready": "\(ready)",
                "trigger": "\(trigger)", "reason": "\(step.plan.reason)"])
            entry.requested = replicas
            entry.metrics.requested.set(to: Double(replicas))
            driver.setReplicas(replicas, of: name)
        }
        targets[name] = entry
    }

    /// Every target as `/status` shows it.
    public func status() -> [TargetStatus] {
        let now = clock()
        return targets.keys.sorted().map { name in
            let entry = targets[name]!
            let spec = entry.scaler.spec
            let decision = entry.scaler.latest
            let rps = entry.scaler.metrics.averages(for: .rps, at: now)?.panic ?? 0
            let queueFresh = entry.queueReportedAt.map { now - $0 <= .seconds(2) } ?? false
            return TargetStatus(
                name: name, metric: spec.metric.name, requested: entry.requested, running: entry.state.endpoints.count,
                ready: entry.state.ready.count, desired: decision?.desired, stable: decision?.stable, panic: decision?.panic,
                targetPerReplica: spec.targetValue, panicking: entry.scaler.decider.isPanicking,
                excessBurstCapacity: decision?.excessBurstCapacity, rps: rps,
                queueLength: queueFresh ? entry.queueLength : 0,
                activity: entry.scaler.planner.activity.description, reason: entry.lastStep?.plan.reason ?? "starting",
                holding: entry.lastStep?.holding ?? false, failure: entry.state.failure, signalFailure: entry.scaler.failureReason,
                fallbackReplicas: entry.lastStep?.fallbackWant)
        }
    }
}
