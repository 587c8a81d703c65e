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
    /// A cold start costs its load time twice: once as replica time spent loading and once as the
    /// waiting it puts on requests (weighted like replica time). The one constant of the rule.
    public static let coldStartFactor = 2.0

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
    public static func skiRental(loadTime: Double) -> WarmWindow {
        WarmWindow(keepFor: coldStartFactor * loadTime)
    }

    /// The window with the least expected cost over `gaps` (seconds), for a replica that takes
    /// `loadTime` seconds to load.
    public static func best(gaps: [Double], loadTime: Double) -> WarmWindow {
        guard gaps.count >= representativeGaps else { return skiRental(loadTime: loadTime) }
        let sorted = gaps.sorted()
        let cold = coldStartFactor * loadTime
        let waitWeight = coldStartFactor - 1
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
                    total += keep + loadTime + waitWeight * (ready - gap)
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
        let keepCandidates = [0.0] + quantiles.prefix(4)
        for keep in Set(keepCandidates) {
            for head in quantiles {
                let start = max(keep, head - loadTime)
                for tail in quantiles where tail >= start + loadTime {
                    let window = start...tail
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
    private var windowLoadTime: Double

    public init(loadTime: Double) {
        window = .skiRental(loadTime: loadTime)
        windowLoadTime = loadTime
    }

    /// Records whether the level is needed at `now`. A break shorter than `minimumGap` (one
    /// decision period) is not a gap: the level was needed at both ends of it.
    public mutating func observe(needed: Bool, at now: Timestamp, minimumGap: Double, loadTime: Double) {
        let sinceLast = lastNeeded.map { (now - $0).secondsValue }
        if needed {
            if let sinceLast, sinceLast > minimumGap {
                closeBusyPeriod()
                Self.append(sinceLast, to: &gaps)
                relearn(loadTime: loadTime)
            }
            if busySince == nil { busySince = now }
            lastNeeded = now
        } else if let sinceLast, sinceLast > minimumGap {
            closeBusyPeriod()
        }
        if abs(windowLoadTime - loadTime) > 0.5 { relearn(loadTime: loadTime) }
    }

    private mutating func closeBusyPeriod() {
        guard let since = busySince, let last = lastNeeded else { return }
        Self.append((last - since).secondsValue, to: &busyPeriods)
        busySince = nil
    }

    private mutating func relearn(loadTime: Double) {
        window = .best(gaps: gaps, loadTime: loadTime)
        windowLoadTime = loadTime
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
