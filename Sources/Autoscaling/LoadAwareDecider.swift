/// Which rules decide a target's replica count.
public enum ScalingPolicyKind: String, Sendable, CaseIterable {
    /// Thaw's default: knows the target's load time, plans one load time ahead, and keeps or
    /// pre-warms capacity by what a cold start costs (`LoadAwareDecider`).
    case thaw
    /// Knative's KPA, exactly (`Decider`).
    case kpa
}

/// Thaw's own decision rule: the KPA reacts to demand now and holds what it asked for a stable
/// window; inference replicas take tens of seconds to load, so a replica asked for in a burst often
/// arrives after it, is held for a minute, and is gone when the next burst comes.
///
/// It sizes for now as the KPA does (the stable window at the target utilization, the panic window
/// at full capacity, and in a burst the panic window at the target), except that a backlog is
/// drained over one load time rather than sized for at once, and nothing is held for a stable
/// window. Then it looks at each replica's worth of capacity (a *level*: the k-th replica) separately:
/// - a level needed now is kept, and started if it is not running, unless this level's own history
///   says its busy periods end before a replica could load (it would arrive to nothing);
/// - demand one load time ahead (a rising trend, fitted over the recent past) is started now;
/// - a level no longer needed is kept warm, and pre-warmed before it is expected again, by the
///   `WarmWindow` learned from that level's idle gaps (ski rental until it has seen enough).
/// The load time is the `LoadTimeEstimate`: measured from the starts the scaler saw, else
/// configured. Pure and deterministic, with the clock passed in, like `Decider`.
public struct LoadAwareDecider: Sendable {
    public let spec: DeciderSpec
    public private(set) var loadTime: LoadTimeEstimate
    /// Level k's history at index k-1.
    public private(set) var levels: [LevelHistory] = []
    /// Recent demand, for the trend; at most `trendLimit` points.
    private var recent: [(time: Double, demand: Double)] = []
    public private(set) var latest: Explanation?
    /// Seconds a request holds a slot, learned while the replicas kept up; nil until then.
    public private(set) var serviceTime: Double?
    /// What waking from zero made requests wait, measured.
    public private(set) var wake = WakeCost()

    /// Levels above this are scaled by demand alone (no history); it bounds memory per target.
    public static let levelLimit = 512
    /// A break in need shorter than this is not an idle gap: decisions come every 2 s.
    public static let minimumGap = 2.5
    /// A start is skipped when fewer than this share of this level's busy periods that lasted as
    /// long as the current one went on for another load time.
    public static let startWorthIt = 0.2
    static let trendLimit = 120

    /// What one decision was made of, for logs, `thaw status` and metrics.
    public struct Explanation: Sendable, Equatable {
        public var desired: Int
        /// Replicas the demand now asks for.
        public var need: Int
        /// Replicas the demand one load time ahead asks for.
        public var forecast: Int
        /// Idle replicas kept warm by their level's window.
        public var keptWarm: Int
        /// Replicas started ahead of expected demand.
        public var prewarmed: Int
        /// Replicas the demand asks for that were not started: they would arrive after the need.
        public var skipped: Int
        /// The recent demand crossed the panic threshold: sized at the target on it (the KPA's panic).
        public var burst: Bool = false
        public var loadTime: Duration
        public var loadTimeSource: String

        public var reason: String {
            var parts = ["need \(need)"]
            if burst { parts.append("burst") }
            let load = "\((loadTime.secondsValue * 10).rounded() / 10) s"
            if forecast > need { parts.append("\(forecast) forecast in \(load)") }
            if keptWarm > 0 { parts.append("\(keptWarm) kept warm") }
            if prewarmed > 0 { parts.append("\(prewarmed) pre-warmed") }
            if skipped > 0 { parts.append("\(skipped) not started (bursts here end before a replica loads)") }
            parts.append("load time \(load) \(loadTimeSource)")
            return "thaw policy: " + parts.joined(separator: "; ")
        }
    }

    public init(spec: DeciderSpec) {
        self.spec = spec
        loadTime = LoadTimeEstimate(configured: spec.loadTime)
    }

    /// The scaler asked for `count` more replicas, or (negative) took back starts it had asked for.
    public mutating func asked(_ count: Int, at now: Timestamp) {
        if count > 0 { loadTime.asked(count, at: now) } else if count < 0 { loadTime.cancelled(-count) }
    }

    /// `count` more replicas became ready.
    public mutating func becameReady(_ count: Int, at now: Timestamp) {
        loadTime.becameReady(count, at: now)
    }

    /// Decides how many replicas to run.
    /// - Parameters:
    ///   - demand: the recent demand (the panic window's average) in the metric's unit.
    ///   - steady: the stable window's average.
    ///   - arrivals: requests per second lately (the panic window's): with the demand it gives the time
    ///     a request holds a slot, and it measures what waking from zero costs.
    ///   - readyReplicas: replicas ready now.
    ///   - current: replicas that exist or were asked for (ready plus starting).
    public mutating func decide(demand measured: Double, steady measuredSteady: Double, arrivals: Double = 0, readyReplicas: Int,
                                current: Int, now: Timestamp) -> Explanation {
        let load = loadTime.current.secondsValue
        let t = now.seconds
        let (demand, steady) = withoutBacklog(demand: measured, steady: measuredSteady, arrivals: arrivals,
                                              readyReplicas: readyReplicas, loadTime: load)
        // What to run now: the steady demand at the target utilization (headroom for the noise a
        // stable window averages out) while there is demand at all, and the recent demand at full
        // capacity; in a burst (the KPA's panic threshold crossed), the recent demand at the target
        // utilization. A stable window's tail of old requests is not demand: once nothing has come
        // for a panic window, the level windows alone decide what stays warm.
        let burst = Self.replicas(for: demand, target: spec.targetValue)
        let inBurst = Double(burst) >= spec.panicThreshold * Double(max(1, readyReplicas))
        let need = max(demand > 0 ? Self.replicas(for: steady, target: spec.targetValue) : 0,
                       Self.replicas(for: demand, target: spec.totalValue), inBurst ? burst : 0)
        // What the demand cannot do without: every slot busy. Only these levels learn idle gaps, so
        // a replica is kept warm for what would make requests wait, not for headroom.
        let hardNeed = Self.replicas(for: demand, target: spec.totalValue)

        recent.append((t, demand))
        let horizon = min(Double(Self.trendLimit) * 2, max(60, 2 * load))
        recent.removeAll { $0.time < t - horizon }
        if recent.count > Self.trendLimit { recent.removeFirst(recent.count - Self.trendLimit) }
        let rise = forecastRise(demand: demand, ahead: load)
        let forecast = max(Self.replicas(for: steady + rise, target: spec.targetValue),
                           Self.replicas(for: demand + rise, target: spec.totalValue))

        let tracked = min(Self.levelLimit, max(levels.count, hardNeed))
        let cold = WarmWindow.coldStartCost(loadTime: load, slots: spec.targetValue)
        wake.observe(busy: hardNeed > 0, arrivals: arrivals, at: t, loadTime: load)
        while levels.count < tracked {
            levels.append(LevelHistory(coldStartCost: cold, loadTime: load, fallbackLimit: spec.stableWindow.secondsValue))
        }
        for k in levels.indices {
            // The first replica's cold start is the wake from zero: what it costs is measured, since
            // a rarely used model's first requests are a handful, not a replica's worth.
            let levelCost = k == 0 ? wake.cost(loadTime: load) ?? cold : cold
            levels[k].observe(needed: k < hardNeed, at: now, minimumGap: Self.minimumGap, loadTime: load, coldStartCost: levelCost)
        }

        var explanation = Explanation(desired: 0, need: need, forecast: forecast, keptWarm: 0, prewarmed: 0, skipped: 0,
                                      burst: inBurst, loadTime: loadTime.current, loadTimeSource: loadTime.source)
        var desired = 0
        let top = max(levels.count, need, forecast)
        for level in stride(from: 1, through: min(top, Self.levelLimit), by: 1) {
            let history = level <= levels.count ? levels[level - 1] : nil
            if level <= need {
                // A level above what runs now is worth starting only if it is likely still needed once loaded.
                if level > max(1, current), let history, let since = history.busySince,
                   let chance = history.chanceBusy(elapsed: (now - since).secondsValue, more: load),
                   chance < Self.startWorthIt {
                    explanation.skipped += 1
                    continue
                }
                desired += 1
            } else if level <= forecast {
                desired += 1
            } else if spec.reachable, let history, let idle = history.idle(at: now),
                      history.window.wantsReplica(idleFor: idle) {
                if idle <= history.window.keepFor {
                    // Keeping is for a replica that runs; one that does not would arrive after the window.
                    guard level <= current else { continue }
                    explanation.keptWarm += 1
                } else {
                    explanation.prewarmed += 1
                }
                desired += 1
            }
        }

        desired += max(0, max(need, forecast) - Self.levelLimit)
        let ready = Double(max(1, readyReplicas))
        desired = min(desired, Int(clampingToInt32: (spec.maxScaleUpRate * ready).rounded(.up)))
        if spec.reachable { desired = max(desired, Int(clampingToInt32: (Double(readyReplicas) / spec.maxScaleDownRate).rounded(.down))) }
        if desired > 0, spec.activationScale > desired { desired = spec.activationScale }
        explanation.desired = desired
        latest = explanation
        return explanation
    }

    /// Requests waiting for capacity count in the concurrency, but replicas asked for now arrive one
    /// load time later: sizing for the whole backlog at once asks for replicas that find it gone
    /// (the KPA's waste after a cold burst). With the time a request holds a slot learned while
    /// replicas kept up (concurrency over arrivals), the demand is what the arrivals keep busy plus
    /// what drains the backlog within one load time.
    private mutating func withoutBacklog(demand: Double, steady: Double, arrivals: Double, readyReplicas: Int,
                                         loadTime: Double) -> (demand: Double, steady: Double) {
        guard spec.metric == .concurrency, arrivals > 0 else { return (demand, steady) }
        if readyReplicas > 0, arrivals >= 0.2, demand <= 0.8 * Double(readyReplicas) * spec.totalValue {
            let observed = demand / arrivals
            serviceTime = serviceTime.map { 0.8 * $0 + 0.2 * observed } ?? observed
        }
        guard let held = serviceTime else { return (demand, steady) }
        let offered = arrivals * held
        guard demand > 1.5 * offered else { return (demand, steady) }
        let effective = offered + (demand - offered) * min(1, held / max(loadTime, 0.001))
        return (effective, min(steady, effective))
    }

    static func replicas(for demand: Double, target: Double) -> Int {
        guard demand > 0 else { return 0 }
        return Int(clampingToInt32: (demand / target).rounded(.up))
    }

    /// How much demand rises `ahead` seconds from now on a clear rising trend: a least-squares line over the recent
    /// past minute (or two load times), trusted only when it explains most of the variation (a burst's step is not a trend), and
    /// never more than twice the demand now.
    private func forecastRise(demand: Double, ahead: Double) -> Double {
        guard recent.count >= 15, demand > 0 else { return 0 }
        let n = Double(recent.count)
        let meanT = recent.reduce(0) { $0 + $1.time } / n
        let meanD = recent.reduce(0) { $0 + $1.demand } / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for point in recent {
            let dt = point.time - meanT, dd = point.demand - meanD
            sxy += dt * dd
            sxx += dt * dt
            syy += dd * dd
        }
        guard sxx > 0, syy > 0 else { return 0 }
        let slope = sxy / sxx
        let fit = (sxy * sxy) / (sxx * syy)
        guard slope > 0, fit >= 0.8 else { return 0 }
        return min(demand, slope * ahead)
    }
}

/// What a cold start from zero costs the requests that wake the target: for each busy period of
/// the first replica, the request-seconds that would wait through one load time if no replica were
/// warm (arrivals accumulate and none is served until the replica is ready), measured from the
/// arrival rate the scaler sees.
public struct WakeCost: Sendable {
    static let kept = 16
    static let needed = 3
    /// Waiting request-seconds, one sample per busy period.
    public private(set) var samples: [Double] = []
    private var open: (start: Double, last: Double, arrived: Double, waited: Double)?

    public init() {}

    mutating func observe(busy: Bool, arrivals: Double, at t: Double, loadTime: Double) {
        if var period = open {
            let dt = max(0, min(t, period.start + loadTime) - period.last)
            period.waited += period.arrived * dt + arrivals * dt * dt / 2
            period.arrived += arrivals * dt
            period.last = t
            if t >= period.start + loadTime {
                samples.append(period.waited)
                if samples.count > Self.kept { samples.removeFirst(samples.count - Self.kept) }
                open = nil
            } else {
                open = period
            }
        }
        if busy, open == nil, !wasBusy { open = (t, t, 0, 0) }
        wasBusy = busy
    }

    private var wasBusy = false

    /// The replica-seconds one cold start from zero costs (its load time plus the waiting, priced
    /// alike); nil until a few wakes were seen.
    public func cost(loadTime: Double) -> Double? {
        guard samples.count >= Self.needed else { return nil }
        return loadTime + samples.reduce(0, +) / Double(samples.count)
    }
}
