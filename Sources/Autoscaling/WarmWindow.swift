/// What to do with one replica's worth of capacity (a *level*: the k-th replica) once demand stops
/// needing it: keep it warm for a while, and possibly start it again ahead of when it is expected
/// to be needed next.
///
/// Times count from the moment the level was last needed. The window is chosen from the level's
/// own history of idle gaps (time from last needed to needed again) by minimising the expected cost
/// over those gaps, where idle replica time costs one per second and a cold start costs
/// `coldStartCost` (its load time spent loading, and the waiting it causes). This is the hybrid
/// histogram of "Serverless in the Wild" (USENIX ATC 2020) per capacity level, except that its fixed
/// percentiles (pre-warm at the 5th, keep to the 99th) are replaced by the cost-minimising choice
/// among all candidate windows: on a tight distribution that is the same window, on a wide or
/// bimodal one it is cheaper. With too few gaps to be representative it falls back to the
/// deterministic ski-rental rule: keep the replica as long as a cold start would cost, then release.
public struct WarmWindow: Sendable, Equatable {
    /// Keep the replica this many seconds after the level was last needed.
    public var keepFor: Double
    /// If still not needed, start loading it again at `lowerBound` seconds and keep it until
    /// `upperBound`; nil: no pre-warm.
    public var prewarm: ClosedRange<Double>?
    /// Gaps the window was learned from; 0 for the ski-rental fallback.
    public var learnedFrom: Int

    /// Fewer gaps than this are not a distribution: ski rental instead.
    public static let representativeGaps = 5
    /// What one cold start of a level costs, in replica-seconds: the load time spent loading, plus
    /// the waiting it causes. A level is `slots` x `utilization` requests in flight; over the load
    /// time L, requests needing the level arrive at an even rate and wait L/2 on average, so
    /// slots x utilization x L^2 / 2 request-seconds of waiting. A request waiting one second is
    /// priced like a replica running one second: waiting is what users of a model feel, idle
    /// replicas are what its owner pays. Slow loads cost quadratically more, so they are kept longer.
    public static func coldStartCost(loadTime: Double, slots: Double) -> Double {
        loadTime + slots * loadTime * loadTime / 2
    }

    public init(keepFor: Double, prewarm: ClosedRange<Double>? = nil, learnedFrom: Int = 0) {
        self.keepFor = keepFor
        self.prewarm = prewarm
        self.learnedFrom = learnedFrom
    }

    /// Whether the replica should exist `idle` seconds after the level was last needed.
    public func wantsReplica(idleFor idle: Double) -> Bool {
        if idle <= keepFor { return true }
        if let prewarm, prewarm.contains(idle) { return true }
        return false
    }

    /// The ski-rental window: keep as long as one cold start costs.
    public static func skiRental(coldStartCost: Double) -> WarmWindow {
        WarmWindow(keepFor: coldStartCost)
    }

    /// The window with the least expected cost over `gaps` (seconds), for a replica that takes
    /// `loadTime` seconds to load and costs `cold` each time it starts cold.
    public static func best(gaps: [Double], loadTime: Double, coldStartCost cold: Double, fallbackLimit: Double = .infinity) -> WarmWindow {
        // Until a level has recurred a few times, whether it will recur at all is unknown (the
        // levels a backlog needed once, say): the waiting a cold start would cause is only a cost
        // if it comes back, so the fallback counts the load time twice, as the plain rule does,
        // and holds no longer than `fallbackLimit` (the KPA's stable window: uninformed, Thaw
        // keeps a replica no longer than the KPA would).
        guard gaps.count >= representativeGaps else { return skiRental(coldStartCost: min(cold, 2 * loadTime, fallbackLimit)) }
        let sorted = gaps.sorted()
        // Candidate times: every gap for keeping (a keep window worth having ends at a gap), and a
        // few quantiles for pre-warming, so the search stays small (at most a few thousand
        // evaluations of a few dozen gaps) while it sees the shape of the distribution.
        let quantiles = [0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1].map { sorted[Int((Double(sorted.count - 1) * $0).rounded())] }
        var keeps = [0.0] + sorted
        keeps = Array(Set(keeps)).sorted()

        func cost(keep: Double, prewarm: ClosedRange<Double>?) -> Double {
            var total = 0.0
            for gap in sorted {
                if gap <= keep { total += gap; continue }
                guard let prewarm else { total += keep + cold; continue }
                let start = prewarm.lowerBound, ready = start + loadTime, end = prewarm.upperBound
                if gap < start {
                    total += keep + cold
                } else if gap < ready {
                    // Loading when needed: the replica's loading time is spent, and requests wait the rest.
                    let early = (ready - gap) / max(loadTime, 0.001)
                    total += keep + loadTime + max(0, cold - loadTime) * early * early
                } else if gap <= end {
                    total += keep + (gap - start)
                } else {
                    total += keep + (end - start) + cold
                }
            }
            return total / Double(sorted.count)
        }

        var best = WarmWindow(keepFor: 0, learnedFrom: sorted.count)
        var bestCost = Double.infinity
        for keep in keeps {
            let c = cost(keep: keep, prewarm: nil)
            if c < bestCost { bestCost = c; best.keepFor = keep; best.prewarm = nil }
        }
        // Sorted, not a Set's order: with equal costs the first candidate wins, and a decision
        // must not depend on the process's hash seed.
        let keepCandidates = Array(Set([0.0] + quantiles.prefix(4))).sorted()
        for keep in keepCandidates {
            for head in quantiles {
                let start = max(keep, head - loadTime)
                for tail in quantiles where tail >= start + loadTime {
                    let window = start...tail
                    // A pre-warm is a bet on when the next need comes: it must have a fair share
                    // of the history behind it, not one lucky gap.
                    let covered = sorted.filter { $0 >= start + loadTime && $0 <= tail }.count
                    guard covered * 4 >= sorted.count, covered >= 2 else { continue }
                    let c = cost(keep: keep, prewarm: window)
                    // A pre-warm must pay for itself clearly: it is a bet on the future.
                    if c < bestCost * 0.98 { bestCost = c; best.keepFor = keep; best.prewarm = window }
                }
            }
        }
        return best
    }
}

/// The history of one capacity level: when it was last needed, and how long it stayed idle and
/// busy before, bounded to the newest `kept` of each.
public struct LevelHistory: Sendable, Equatable {
    public static let kept = 32

    /// When the level was last needed; nil before it ever was.
    public private(set) var lastNeeded: Timestamp?
    /// Since when it has been needed without a break; nil while idle.
    public private(set) var busySince: Timestamp?
    public private(set) var gaps: [Double] = []
    public private(set) var busyPeriods: [Double] = []
    /// The window learned from `gaps`, recomputed when a gap ends or the load time changes.
    public private(set) var window: WarmWindow
    private var windowCost: Double

    /// Windows fall back to holding no longer than this.
    private let fallbackLimit: Double

    public init(coldStartCost: Double, loadTime: Double, fallbackLimit: Double = .infinity) {
        self.fallbackLimit = fallbackLimit
        window = .best(gaps: [], loadTime: loadTime, coldStartCost: coldStartCost, fallbackLimit: fallbackLimit)
        windowCost = coldStartCost
    }

    /// Records whether the level is needed at `now`. A break shorter than `minimumGap` (one
    /// decision period) is not a gap: the level was needed at both ends of it.
    public mutating func observe(needed: Bool, at now: Timestamp, minimumGap: Double, loadTime: Double, coldStartCost: Double) {
        let sinceLast = lastNeeded.map { (now - $0).secondsValue }
        if needed {
            if let sinceLast, sinceLast > minimumGap {
                closeBusyPeriod()
                Self.append(sinceLast, to: &gaps)
                relearn(loadTime: loadTime, cost: coldStartCost)
            }
            if busySince == nil { busySince = now }
            lastNeeded = now
        } else if let sinceLast, sinceLast > minimumGap {
            closeBusyPeriod()
        }
        if abs(windowCost - coldStartCost) > 0.5 { relearn(loadTime: loadTime, cost: coldStartCost) }
    }

    private mutating func closeBusyPeriod() {
        guard let since = busySince, let last = lastNeeded else { return }
        Self.append((last - since).secondsValue, to: &busyPeriods)
        busySince = nil
    }

    private mutating func relearn(loadTime: Double, cost: Double) {
        window = .best(gaps: gaps, loadTime: loadTime, coldStartCost: cost, fallbackLimit: fallbackLimit)
        windowCost = cost
    }

    /// Seconds since the level was last needed, or nil if it never was.
    public func idle(at now: Timestamp) -> Double? {
        lastNeeded.map { (now - $0).secondsValue }
    }

    /// How likely a busy period that has lasted `elapsed` seconds lasts `more` seconds longer,
    /// from the periods seen; nil with too few periods that long to say.
    public func chanceBusy(elapsed: Double, more: Double) -> Double? {
        let longer = busyPeriods.filter { $0 >= elapsed }
        guard longer.count >= WarmWindow.representativeGaps else { return nil }
        return Double(longer.filter { $0 >= elapsed + more }.count) / Double(longer.count)
    }

    private static func append(_ value: Double, to list: inout [Double]) {
        list.append(value)
        if list.count > kept { list.removeFirst(list.count - kept) }
    }
}
