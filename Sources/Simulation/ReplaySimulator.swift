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
    /// Why a decision ran this second: "tick", "poke", or nil.
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
    public var reason: String
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

/// Runs the whole loop for one service against a per-second demand trace: stats into the windows,
/// a decision every 2 seconds and at once on a poke, the replica planner, and replicas that become
/// ready only after a start delay. Everything runs on simulated time, so a day replays in moments.
public struct ReplaySimulator {
    public let policy: TargetPolicy
    public let options: ReplayOptions

    public init(policy: SimulationPolicy, options: ReplayOptions = ReplayOptions()) {
        self.policy = policy.target
        self.options = options
    }

    public func run(_ trace: DemandTrace) -> (timeline: [ReplaySecond], summary: ReplaySummary) {
        let spec = policy.decider
        var planner = ReplicaPlanner(policy: policy.replicas, now: .epoch)
        let startReplicas = options.initialReplicas ?? planner.initialReplicas
        var metrics = MetricAggregator(spec: spec)
        var decider = Decider(spec: spec, readyReplicas: startReplicas, now: .epoch)
        var latest: ScaleDecision?
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
            if ready > 0 || demand > 0 {
                metrics.record(RequestStat(averageConcurrency: concurrency, requestCount: rps), at: now)
            }

            var trigger: String?
            if second % 2 == 0 {
                trigger = "tick"
            } else if latest?.desired == 0, concurrency > 0 {
                trigger = "poke"
            }
            var decided: ScaleDecision?
            if trigger != nil {
                decided = decider.decide(readyReplicas: ready, metrics: metrics, now: now)
                if let decided {
                    latest = decided
                    summary.decisions += 1
                }
            }

            let plan = planner.plan(desired: latest?.desired,
                                    excessBurstCapacity: latest?.excessBurstCapacity ?? spec.initialExcessBurstCapacity,
                                    readyReplicas: ready, activatorInPath: planner.activatorInPathSince != nil, now: now)
            if let target = plan.replicas, target != ready + starting.total {
                summary.scaleChanges += 1
                scale(to: target, ready: &ready, starting: &starting, now: now)
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
