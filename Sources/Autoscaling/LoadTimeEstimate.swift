/// How long a new replica of one target takes to become ready, learned from the starts the scaler
/// asked for and saw finish.
///
/// A start is timed from the step that asked for it to the first step that saw it ready, so the
/// estimate includes what the driver adds (scheduling, image pull) and is rounded up to the tick.
/// Until some starts were seen, the `autoscaling.thaw.dev/load-time` annotation stands, else
/// `fallback`. The median of the newest samples resists one slow pull or one cached image.
public struct LoadTimeEstimate: Sendable {
    /// What the estimate is before any start was seen and no load time was configured.
    public static let fallback: Duration = .seconds(10)
    /// Samples kept; older ones are dropped, so a model that got bigger is learned within a few starts.
    static let kept = 15
    /// Starts that never become ready are forgotten past this many, oldest first.
    static let pendingLimit = 10_000

    public let configured: Duration?
    private var samples: [Duration] = []
    /// Asked-for starts not yet seen ready, oldest first, grouped by when they were asked for.
    private var pending: [(askedAt: Timestamp, count: Int)] = []
    private var pendingTotal = 0

    public init(configured: Duration?) {
        self.configured = configured
    }

    /// The current estimate.
    public var current: Duration {
        guard !samples.isEmpty else { return configured ?? Self.fallback }
        let sorted = samples.sorted()
        return sorted[sorted.count / 2]
    }

    /// Where `current` comes from, for the decision's reason.
    public var source: String {
        if !samples.isEmpty { return "measured over \(samples.count) start(s)" }
        return configured != nil ? "from autoscaling.thaw.dev/load-time" : "assumed until a start is seen"
    }

    public var measuredStarts: Int { samples.count }

    /// The scaler asked for `count` more replicas at `time`.
    public mutating func asked(_ count: Int, at time: Timestamp) {
        guard count > 0 else { return }
        pending.append((time, count))
        pendingTotal += count
        while pendingTotal > Self.pendingLimit, !pending.isEmpty {
            let dropped = min(pending[0].count, pendingTotal - Self.pendingLimit)
            pending[0].count -= dropped
            pendingTotal -= dropped
            if pending[0].count == 0 { pending.removeFirst() }
        }
    }

    /// The scaler lowered its count below what was asked: the newest starts will not happen.
    public mutating func cancelled(_ count: Int) {
        var left = min(count, pendingTotal)
        pendingTotal -= left
        while left > 0, let last = pending.last {
            let take = min(left, last.count)
            left -= take
            if take == last.count { pending.removeLast() } else { pending[pending.count - 1].count -= take }
        }
    }

    /// `count` more replicas were seen ready at `time`: the oldest pending starts finished.
    /// Readiness that was not asked for (an adopted workload, a restarted replica) teaches nothing.
    public mutating func becameReady(_ count: Int, at time: Timestamp) {
        var left = min(count, pendingTotal)
        pendingTotal -= left
        while left > 0, !pending.isEmpty {
            let take = min(left, pending[0].count)
            let sample = time - pending[0].askedAt
            left -= take
            pending[0].count -= take
            if pending[0].count == 0 { pending.removeFirst() }
            // One sample per group: a scale-up by fifty is one observation of the load time, not fifty.
            samples.append(sample)
            if samples.count > Self.kept { samples.removeFirst(samples.count - Self.kept) }
        }
    }
}
