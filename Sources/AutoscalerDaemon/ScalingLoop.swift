import Autoscaling
import Foundation
import Logging
import ScalingPolicy
import ScaleTargets
import TrafficStats

/// Every target's scaler, fed by stat and poke intake, the periodic tick and the driver's view of
/// replicas, and acting through the driver.
///
/// One actor serialises all of it, so a decision always sees every report that arrived before it.
/// The decision itself is the pure `TargetScaler`; this type only routes inputs and applies results.
public actor ScalingLoop {
    private struct Entry {
        let policy: TargetPolicy
        var scaler: TargetScaler
        let metrics: AutoscalerMetrics.Target
        var requested: Int
        var state: TargetState
        var lastStep: TargetScaler.Step?
        var waiting = WaitingRequests()
        /// Someone else changed the replica count the platform holds: set it again at the next decision.
        var reassert = false
        /// Just took over leadership with no history: no scale-in before this (a stable window of data).
        var noScaleInUntil: Timestamp?
    }

    private var targets: [String: Entry] = [:]
    /// Whether this autoscaler writes replica counts: false in a stand-by replica, which follows the
    /// counts the leader writes and decides nothing until it takes over.
    private var leading: Bool

    public var isLeading: Bool { leading }
    /// The driver's newest state of every target it reported, known to the catalog yet or not: a
    /// target found after its pods were seen starts with what they say.
    private var latestStates: [String: TargetState] = [:]
    /// The newest poke-to-decision times, for `thaw demo` and benchmarks (the metric has them as a histogram).
    public private(set) var recentPokeLatencies: [Duration] = []
    private let driver: any ReplicaDriver
    private let metrics: AutoscalerMetrics
    private let logger: Logger
    private nonisolated let clock: @Sendable () -> Timestamp

    /// The loop's clock now, for checks made before a report reaches it.
    public nonisolated func now() -> Timestamp { clock() }

    /// Wall-clock time: reports carry Unix timestamps, and the windows key buckets by them.
    public static let wallClock: @Sendable () -> Timestamp = { Timestamp(seconds: Date().timeIntervalSince1970) }

    /// - Parameter leading: false for a replica that must win an election first.
    public init(targets: [ScaledTarget], driver: any ReplicaDriver, metrics: AutoscalerMetrics, logger: Logger,
                clock: @escaping @Sendable () -> Timestamp = ScalingLoop.wallClock, leading: Bool = true) {
        self.leading = leading
        metrics.leader.set(leading ? 1.0 : 0.0)
        self.driver = driver
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        let now = clock()
        for target in targets { self.targets[target.name] = Self.entry(for: target, metrics: metrics, now: now) }
    }

    private static func entry(for target: ScaledTarget, metrics: AutoscalerMetrics, now: Timestamp) -> Entry {
        let scaler = TargetScaler(spec: target.policy.decider, replicas: target.policy.replicas,
                                  secondary: target.policy.secondary, fallback: target.policy.fallback, now: now, adopting: target.current)
        let entry = Entry(policy: target.policy, scaler: scaler, metrics: metrics.target(target.name), requested: target.current ?? scaler.planner.initialReplicas,
                          state: TargetState(name: target.name))
        entry.metrics.targetPerReplica.set(to: target.policy.decider.targetValue)
        entry.metrics.requested.set(to: Double(entry.requested))
        return entry
    }

    /// The catalog's newest targets: new ones start (at the scale they have, when they have one),
    /// gone ones are forgotten with their replicas left as they are, and a changed policy starts
    /// its target's windows afresh at the scale it has.
    public func setTargets(_ latest: [ScaledTarget]) {
        let now = clock()
        let names = Set(latest.map(\.name))
        let gone = targets.keys.filter { !names.contains($0) }
        for name in gone.sorted() {
            targets[name] = nil
            logger.notice("target forgotten; its replicas stay as they are", metadata: ["target": "\(name)"])
        }
        metrics.forget(Set(gone))
        for target in latest {
            if let existing = targets[target.name] {
                guard existing.policy != target.policy else { continue }
                var entry = Self.entry(for: ScaledTarget(name: target.name, policy: target.policy, current: existing.requested),
                                       metrics: metrics, now: now)
                // What the loop knows apart from the policy carries over: the replicas, the queue, and a
                // pending set-back of an outside scale change (a `kubectl apply` can bring both at once).
                entry.state = existing.state
                entry.waiting = existing.waiting
                entry.reassert = existing.reassert
                targets[target.name] = entry
                logger.notice("target policy changed; deciding on the new one", metadata: ["target": "\(target.name)"])
                applyBounds(target.name)
            } else {
                var entry = Self.entry(for: target, metrics: metrics, now: now)
                entry.state = latestStates[target.name] ?? entry.state
                targets[target.name] = entry
                logger.info("target found", metadata: ["target": "\(target.name)", "replicas": "\(entry.requested)"])
                if target.current == nil {
                    write(entry.requested, of: target.name)
                } else {
                    applyBounds(target.name)
                }
            }
        }
    }

    /// Runs `body` on the entry of target `name` in place; nil when there is no such target.
    /// `body` must not reach `targets` itself (it is being changed): act on what it returns instead.
    @discardableResult
    private func withEntry<Value>(_ name: String, _ body: (inout Entry) -> Value) -> Value? {
        guard let index = targets.index(forKey: name) else { return nil }
        return body(&targets.values[index])
    }

    /// The one way a count reaches the driver: a stand-by writes nothing.
    private func write(_ count: Int, of name: String) {
        guard leading else { return }
        driver.setReplicas(count, of: name)
    }

    /// Leadership gained or lost (several autoscaler replicas, one leading through a Lease).
    ///
    /// Taking over, the loop has no history (the stand-by received no stats): every target keeps
    /// the count the old leader left, and nothing is scaled in until a stable window of data has
    /// come in; scale-up and wake-from-zero work at once. Losing it, the loop stops writing.
    public func setLeading(_ leading: Bool) {
        guard leading != self.leading else { return }
        self.leading = leading
        metrics.leader.set(leading ? 1.0 : 0.0)
        guard leading else {
            logger.notice("no longer leading: writing no replica counts, following the leader's")
            return
        }
        let now = clock()
        for name in targets.keys {
            withEntry(name) { entry in
                if let declared = entry.state.declared { entry.requested = declared }
                entry.reassert = false
                entry.noScaleInUntil = now + entry.scaler.spec.stableWindow
                entry.metrics.requested.set(to: Double(entry.requested))
                // Said again, so a count the driver kept from before replaces nothing newer.
                write(entry.requested, of: name)
            }
            // Bounds need no history: a count outside min/max is set right at once.
            applyBounds(name)
        }
        logger.notice("leading: deciding and writing replica counts; no scale-in until a stable window of stats has come in",
                      metadata: ["targets": "\(targets.count)"])
    }

    /// Asks the driver for every target's initial scale; called once before anything else.
    public func start() {
        for (name, entry) in targets.sorted(by: { $0.key < $1.key }) {
            write(entry.requested, of: name)
            entry.metrics.requested.set(to: Double(entry.requested))
            logger.info("target starts", metadata: ["target": "\(name)", "replicas": "\(entry.requested)"])
        }
    }

    /// Brings a target adopted at its own scale (or whose policy changed) within its min and max at
    /// once: bounds need no metrics, and with none yet the planner leaves the scale alone.
    private func applyBounds(_ name: String) {
        withEntry(name) { entry in
            let bounds = entry.policy.replicas
            let bounded = ReplicaPolicy.clamp(entry.requested, min: bounds.effectiveMinScale, max: bounds.maxScale)
            guard bounded != entry.requested else { return }
            logger.info("scaling", metadata: ["target": "\(name)", "from": "\(entry.requested)", "to": "\(bounded)",
                                              "trigger": "bounds", "reason": "outside min-scale \(bounds.effectiveMinScale) / max-scale \(bounds.maxScale)"])
            entry.requested = bounded
            entry.metrics.requested.set(to: Double(bounded))
            write(bounded, of: name)
        }
    }

    /// Records a batch; returns the names of targets it does not know.
    public func ingest(_ batch: StatBatch) -> [String] {
        let now = clock()
        var unknown: [String] = []
        for stat in batch.stats {
            guard let spec = targets[stat.target]?.scaler.spec else {
                unknown.append(stat.target)
                metrics.statsRejected.increment()
                continue
            }
            metrics.statsReceived.increment()
            guard let time = Self.reportTime(stat.timestamp, spec: spec, now: now) else {
                metrics.statsRejected.increment()
                continue
            }
            let request = RequestStat(averageConcurrency: stat.averageConcurrency, requestCount: stat.requestCount,
                                      averageProxiedConcurrency: stat.averageProxiedConcurrency,
                                      proxiedRequestCount: stat.proxiedRequestCount)
            let fromReplica = !ProxyHeaders.isActivator(stat.source)
            let urgent = withEntry(stat.target) { entry in
                if !fromReplica { entry.waiting.report(stat.queueLength, from: stat.source, at: now) }
                return entry.scaler.record(request, fromReplica: fromReplica, at: time, readyReplicas: entry.state.ready.count)
            }
            if urgent == true { decide(stat.target, trigger: "panic threshold crossed", now: now) }
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
            guard let time = collectorReportTime(value.target, metric: metric, timestamp: value.timestamp, now: now,
                                                 unknown: &unknown) else {
                continue
            }
            let changes = withEntry(value.target) { $0.scaler.record(value.value, for: metric, at: time) } ?? []
            act(on: changes, of: value.target, now: now)
        }
        for failure in batch.failures {
            let metric = MetricKind(failure.metric)
            guard collectorReportTime(failure.target, metric: metric, timestamp: failure.timestamp, now: now,
                                      unknown: &unknown) != nil else {
                continue
            }
            let changes = withEntry(failure.target) { entry in
                entry.scaler.recordFailure(for: metric, reason: failure.reason, empty: failure.empty,
                                           readyReplicas: entry.state.ready.count)
            } ?? []
            act(on: changes, of: failure.target, now: now)
        }
        return unknown
    }

    /// Logs and acts on what a collector report changed about a target's signal.
    private func act(on changes: [TargetScaler.SignalChange], of name: String, now: Timestamp) {
        for change in changes {
            switch change {
            case .failed(let metric, let reason, let inARow):
                targets[name]?.metrics.signalFailures.increment()
                if inARow == 1 {
                    logger.warning("the collector cannot read the signal; holding the current scale for it", metadata: [
                        "target": "\(name)", "metric": "\(metric.name)", "reason": "\(reason)"])
                }
            case .fallbackStarted(let metric, let replicas):
                logger.warning("the signal keeps failing; applying the fallback replica count", metadata: [
                    "target": "\(name)", "metric": "\(metric.name)", "replicas": "\(replicas)"])
                decide(name, trigger: "signal failing, fallback", now: now)
            case .recovered(let metric):
                logger.notice("the collector reads the signal again; deciding on it", metadata: [
                    "target": "\(name)", "metric": "\(metric.name)"])
            }
        }
    }

    /// When a collector report counts, if the target exists, scales on `metric`, and the report is
    /// recent enough. Counts the report as received or rejected; an unknown target or metric is
    /// added to `unknown`.
    private func collectorReportTime(_ target: String, metric: MetricKind, timestamp: Double, now: Timestamp,
                                     unknown: inout [String]) -> Timestamp? {
        guard let scaler = targets[target]?.scaler, scaler.spec.metric == metric || scaler.secondary?.spec.metric == metric else {
            unknown.append(target)
            metrics.statsRejected.increment()
            return nil
        }
        guard let time = Self.reportTime(timestamp, spec: scaler.spec, now: now) else {
            metrics.statsRejected.increment()
            return nil
        }
        metrics.statsReceived.increment()
        return time
    }

    /// When a report counts. Reports go into the buckets of the seconds their sender measured, so a
    /// backlog replayed after an outage lands where it belongs rather than in one bucket. A stamp
    /// from the future (clock skew) counts as now; one older than the stable window can no longer
    /// matter and is dropped (nil).
    private static func reportTime(_ timestamp: Double, spec: DeciderSpec, now: Timestamp) -> Timestamp? {
        guard timestamp.isFinite, timestamp >= now.seconds - spec.stableWindow.secondsValue else { return nil }
        return Timestamp(seconds: min(timestamp, now.seconds))
    }

    /// Handles a poke; returns false when the target is unknown.
    public func poke(_ poke: Poke, arrived: ContinuousClock.Instant) -> Bool {
        let now = clock()
        let decideNow = withEntry(poke.target) { entry in
            entry.waiting.poke(poke.queueLength, from: poke.source, at: now)
            // The poke's own queue: the metric's buckets add what several activators poke with.
            return entry.scaler.poke(queueLength: poke.queueLength, readyReplicas: entry.state.ready.count, at: now)
        }
        guard let decideNow else { return false }
        metrics.pokes.increment()
        if decideNow {
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
        latestStates = Dictionary(states.map { ($0.name, $0) }, uniquingKeysWith: { _, newer in newer })
        for state in states {
            withEntry(state.name) { entry in
                if state.failure != entry.state.failure, let failure = state.failure {
                    logger.error("target cannot come up", metadata: ["target": "\(state.name)", "failure": "\(failure)"])
                }
                if state.waiting != entry.state.waiting, let waiting = state.waiting {
                    logger.warning("a replica waits for room on a node; requests keep waiting", metadata: [
                        "target": "\(state.name)", "reason": "\(waiting)"])
                }
                // A change of the count the platform holds that is not ours (`kubectl scale`), as HPA
                // does: logged, and set back at the next decision. Only a change counts, so a view
                // from before our own write landed is not taken for one.
                if !leading, let declared = state.declared {
                    // A stand-by follows what the leader writes.
                    entry.requested = declared
                    entry.metrics.requested.set(to: Double(declared))
                } else if let declared = state.declared, declared != entry.state.declared, entry.state.declared != nil,
                   declared != entry.requested {
                    logger.warning("replicas changed outside Thaw; setting them back at the next decision", metadata: [
                        "target": "\(state.name)", "found": "\(declared)", "requested": "\(entry.requested)"])
                    entry.reassert = true
                }
                entry.metrics.waiting.set(to: state.waiting == nil ? 0 : 1)
                entry.state = state
                entry.metrics.actual.set(to: Double(state.endpoints.count))
                entry.metrics.ready.set(to: Double(state.ready.count))
            }
        }
    }

    private func decide(_ name: String, trigger: String, now: Timestamp) {
        guard leading else { return }
        withEntry(name) { entry in
            let ready = entry.state.ready.count
            let waitingRequests = entry.waiting.total(at: now)
            let step = entry.scaler.step(readyReplicas: ready, activatorInPath: true, waitingRequests: waitingRequests, now: now)
            switch step.holdChange {
            case .started?:
                logger.warning("no stats from ready replicas; holding the current scale until they report again",
                               metadata: ["target": "\(name)", "ready": "\(ready)", "reason": "\(step.plan.reason)"])
            case .ended?:
                logger.notice("stats arrive again; deciding normally", metadata: ["target": "\(name)"])
            case nil:
                break
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
            if let explanation = step.explanation {
                entry.metrics.loadTime.set(to: explanation.loadTime.secondsValue)
                entry.metrics.keptWarm.set(to: Double(explanation.keptWarm))
                entry.metrics.prewarmed.set(to: Double(explanation.prewarmed))
                entry.metrics.forecast.set(to: Double(explanation.forecast))
                entry.metrics.unstarted.set(to: Double(explanation.skipped))
            }
            entry.metrics.holding.set(to: step.holding ? 1 : 0)
            entry.metrics.fallback.set(to: step.fallbackWant == nil ? 0 : 1)
            if let until = entry.noScaleInUntil, now >= until { entry.noScaleInUntil = nil }
            if let replicas = step.plan.replicas, replicas < entry.requested, entry.noScaleInUntil != nil {
                // A new leader's windows hold less than a stable window: too little to scale in on.
            } else if let replicas = step.plan.replicas, replicas != entry.requested {
                logger.info("scaling", metadata: [
                    "target": "\(name)", "from": "\(entry.requested)", "to": "\(replicas)", "ready": "\(ready)",
                    "trigger": "\(trigger)", "reason": "\(step.plan.reason)"])
                entry.requested = replicas
                entry.metrics.requested.set(to: Double(replicas))
                entry.reassert = false
                write(replicas, of: name)
            }
            if entry.reassert {
                entry.reassert = false
                logger.info("setting replicas back", metadata: ["target": "\(name)", "to": "\(entry.requested)", "trigger": "\(trigger)"])
                write(entry.requested, of: name)
            }
        }
    }

    /// Every target as `/status` shows it.
    public func status() -> [TargetStatus] {
        let now = clock()
        return targets.sorted { $0.key < $1.key }.map { name, entry in
            let spec = entry.scaler.spec
            let decision = entry.scaler.latest
            let rps = entry.scaler.metrics.averages(for: .rps, at: now)?.panic ?? 0
            return TargetStatus(
                name: name, metric: spec.metric.name, requested: entry.requested, running: entry.state.endpoints.count,
                ready: entry.state.ready.count, desired: decision?.desired, stable: decision?.stable, panic: decision?.panic,
                targetPerReplica: spec.targetValue, panicking: entry.scaler.loadAware.map { $0.latest?.burst ?? false } ?? entry.scaler.decider.isPanicking,
                excessBurstCapacity: decision?.excessBurstCapacity, rps: rps,
                queueLength: entry.waiting.total(at: now),
                activity: entry.scaler.planner.activity.description, reason: entry.lastStep?.plan.reason ?? "starting",
                holding: entry.lastStep?.holding ?? false, failure: entry.state.failure, waiting: entry.state.waiting, signalFailure: entry.scaler.failureReason,
                fallbackReplicas: entry.lastStep?.fallbackWant, policy: spec.policy.rawValue,
                loadTimeSeconds: entry.scaler.loadAware?.loadTime.current.secondsValue,
                loadTimeSource: entry.scaler.loadAware?.loadTime.source,
                keptWarm: entry.scaler.loadAware?.latest?.keptWarm, prewarmed: entry.scaler.loadAware?.latest?.prewarmed)
        }
    }
}
