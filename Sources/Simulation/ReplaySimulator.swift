import Autoscaling
import ScalingPolicy

/// Settings of a replay that are about the world, not the policy.
public struct ReplayOptions: Sendable {
    /// How long a new replica takes to become ready (process start plus model load).
    public var startDelay: Duration = .seconds(10)
    /// Seconds one request takes; converts between rps and concurrency (Little's law).
    public var requestLatency: Double = 0.1
    /// Ready replicas at t=0; nil means the policy's initial scale.
    public var initialReplicas: Int?
    /// Extra seconds without demand after the trace ends, to watch the scale-down.
    public var tailSeconds: Int = 0

    public init() {}
}

/// The state of the replayed service during one second.
public struct ReplaySecond: Sendable, Equatable {
    public var t: Int
    public var rps: Double
    public var concurrency: Double
    /// Why the daemon decided in this second: "tick" (every 2 s), "poke" (requests waiting with no
    /// ready replica), "panic" (a report crossed the panic threshold), or nil when it did not.
    public var trigger: String?
    public var decision: ScaleDecision?
    public var want: Int
    /// Replicas that exist: ready plus starting.
    public var replicas: Int
    public var ready: Int
    public var activity: TargetActivity
    public var activatorMode: ActivatorMode
    /// Ready replicas x per-replica capacity, in the policy metric's unit.
    public var capacity: Double
    public var overCapacity: Bool
    /// Why the newest plan is what it is; between decisions, the last decision's plan stands.
    public var reason: String

    /// The trigger of a decision taken at once rather than on the tick.
    var earlyTrigger: String? { trigger == "tick" ? nil : trigger }
}

/// Totals over a replay: the cost and the shortfall of a policy.
public struct ReplaySummary: Sendable, Equatable {
    public var seconds: Int
    /// Sum over seconds of replicas that exist (starting ones cost too).
    public var replicaSeconds: Int
    public var readyReplicaSeconds: Int
    public var peakReplicas: Int
    /// Seconds whose demand exceeded the ready replicas' capacity.
    public var secondsOverCapacity: Int
    /// Seconds with demand but no ready replica (requests wait in the activator).
    public var secondsWithoutReadyReplica: Int
    public var decisions: Int
    public var scaleChanges: Int
}

/// Runs the autoscaler daemon's own loop for one service (its `TargetScaler`) against a per-second
/// demand trace, on simulated time, so a day replays in moments and shows what the daemon would do.
///
/// Each second the daemon's inputs arrive as they would: ready replicas report every second, idle
/// or not; with none ready, requests wait in the activator, which reports them and pokes. Like the
/// daemon, the replay decides on the 2-second tick, at once on a poke, and at once on a report that
/// crosses the panic threshold, and plans nothing in between. A second's reports all arrive before
/// its decision, and several reasons to decide in one second decide once. Replicas asked for become
/// ready after the start delay.
public struct ReplaySimulator {
    public let policy: TargetPolicy
    public let options: ReplayOptions

    /// - Throws: when the policy scales on a pushed signal (GPU): the daemon decides such a target on
    ///   the collector's values, which a demand trace does not have, so a replay would be a flat line.
    public init(policy: SimulationPolicy, options: ReplayOptions = ReplayOptions(), file: String = "the policy") throws {
        let metric = policy.target.decider.metric
        guard !metric.isPushed else {
            throw SimulationError(file: file, "metric \(metric.name) is read by thaw-collector, not from requests, so a demand trace cannot drive it; replay with metric concurrency or rps (a GPU target set with autoscaling.thaw.dev/gpu-target is fine: it is left out of the replay)")
        }
        self.policy = policy.target
        self.options = options
    }

    public func run(_ trace: DemandTrace) -> (timeline: [ReplaySecond], summary: ReplaySummary) {
        let spec = policy.decider
        let startReplicas = options.initialReplicas ?? policy.replicas.initialScale
        // A demand trace holds requests only: a collector-read second signal would read as missing
        // and hold every scale-down, so the replay scales on the request signal alone.
        var scaler = TargetScaler(spec: spec, replicas: policy.replicas, readyReplicas: startReplicas, now: .epoch)
        // What the newest step planned; nothing is planned before the first one (the tick at t=0).
        var plan = scaler.planner.hold(reason: "starting")
        var ready = startReplicas
        var starting = StartingReplicas()
        var timeline: [ReplaySecond] = []
        var summary = ReplaySummary(seconds: 0, replicaSeconds: 0, readyReplicaSeconds: 0, peakReplicas: startReplicas,
                                    secondsOverCapacity: 0, secondsWithoutReadyReplica: 0, decisions: 0, scaleChanges: 0)

        for second in 0..<(trace.perSecond.count + max(0, options.tailSeconds)) {
            let now = Timestamp(seconds: Double(second))
            ready += starting.becomeReady(at: now)

            let demand = second < trace.perSecond.count ? trace.perSecond[second] : 0
            let (rps, concurrency) = convert(demand, from: trace.signal)
            let trigger = DaemonReports.deliver(RequestStat(averageConcurrency: concurrency, requestCount: rps), second: second,
                                                waiting: Int(min(concurrency.rounded(.up), Double(Int32.max))),
                                                readyReplicas: ready, to: &scaler)
            var decided: ScaleDecision?
            if trigger != nil {
                // The daemon's own step; in local mode the activator is always in the request path.
                let step = scaler.step(readyReplicas: ready, activatorInPath: true, now: now)
                decided = step.decision
                if decided != nil { summary.decisions += 1 }
                plan = step.plan
                if let target = plan.replicas, target != ready + starting.total {
                    summary.scaleChanges += 1
                    scale(to: target, ready: &ready, starting: &starting, now: now)
                }
            }

            let load = spec.metric == .rps ? rps : concurrency
            let capacity = Double(ready) * spec.totalValue
            let over = load > capacity
            let replicas = ready + starting.total
            summary.seconds += 1
            summary.replicaSeconds += replicas
            summary.readyReplicaSeconds += ready
            summary.peakReplicas = max(summary.peakReplicas, replicas)
            if over { summary.secondsOverCapacity += 1 }
            if demand > 0 && ready == 0 { summary.secondsWithoutReadyReplica += 1 }
            timeline.append(ReplaySecond(
                t: second, rps: rps, concurrency: concurrency, trigger: trigger,
                decision: decided, want: plan.want, replicas: replicas, ready: ready,
                activity: plan.activity, activatorMode: plan.activatorMode, capacity: capacity, overCapacity: over,
                reason: plan.reason))
        }
        return (timeline, summary)
    }

    private func convert(_ demand: Double, from signal: DemandTrace.Signal) -> (rps: Double, concurrency: Double) {
        switch signal {
        case .rps: return (demand, demand * options.requestLatency)
        case .concurrency: return (demand / options.requestLatency, demand)
        }
    }

    /// New replicas start and become ready after the start delay; removals take starting ones first.
    private func scale(to target: Int, ready: inout Int, starting: inout StartingReplicas, now: Timestamp) {
        let current = ready + starting.total
        if target > current {
            starting.add(target - current, readyAt: now + options.startDelay)
        } else {
            ready -= current - target - starting.remove(current - target)
        }
    }
}

/// Replicas that were asked for and are still starting, grouped by when they become ready, so a
/// scale-up by millions costs one entry.
struct StartingReplicas {
    private var groups: [(readyAt: Timestamp, count: Int)] = []
    private(set) var total = 0

    mutating func add(_ count: Int, readyAt: Timestamp) {
        groups.append((readyAt, count))
        total += count
    }

    /// Removes the groups ready at `now` and returns how many replicas they held.
    mutating func becomeReady(at now: Timestamp) -> Int {
        var ready = 0
        while let first = groups.first, first.readyAt <= now {
            ready += first.count
            groups.removeFirst()
        }
        total -= ready
        return ready
    }

    /// Removes up to `count` replicas, newest first, and returns how many were removed.
    mutating func remove(_ count: Int) -> Int {
        var removed = 0
        while removed < count, let last = groups.last {
            let take = min(count - removed, last.count)
            removed += take
            if take == last.count { groups.removeLast() } else { groups[groups.count - 1].count -= take }
        }
        total -= removed
        return removed
    }
}
