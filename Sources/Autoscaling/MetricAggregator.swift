/// The stable and panic windows of every signal recorded for one scale target.
///
/// Request stats from several sources (each replica's sidecar, each activator) arrive independently
/// and are added into the same 1-second buckets, so a bucket holds the target's total at that
/// second. A pushed signal is a sampled level instead, averaged over the samples in its windows.
/// Windows are created on first use per metric, which is what lets a new signal plug in unchanged.
public struct MetricAggregator: Sendable {
    public private(set) var stableWindow: Duration
    public private(set) var panicWindow: Duration
    public let algorithm: AggregationAlgorithm
    private var windows: [MetricKind: StableAndPanic] = [:]
    /// Pushed signals (`MetricKind.isPushed`) are sampled gauges: their windows average samples.
    private var sampled: [MetricKind: SampleWindow] = [:]

    private struct StableAndPanic: Sendable {
        var stable: BucketWindow
        var panic: BucketWindow
    }

    public init(stableWindow: Duration, panicWindow: Duration, algorithm: AggregationAlgorithm = .linear) {
        self.stableWindow = stableWindow
        self.panicWindow = panicWindow
        self.algorithm = algorithm
    }

    public init(spec: DeciderSpec) {
        self.init(stableWindow: spec.stableWindow, panicWindow: spec.panicWindow, algorithm: spec.aggregation)
    }

    /// Adds one observation of `metric` at `time` into both windows: a report's share of that
    /// second for a request signal, one sample of the level for a pushed one.
    public mutating func record(_ value: Double, for metric: MetricKind, at time: Timestamp) {
        if metric.isPushed {
            sampled[metric, default: SampleWindow(window: stableWindow, algorithm: algorithm)].record(value, at: time)
            return
        }
        if windows[metric] == nil {
            windows[metric] = StableAndPanic(
                stable: BucketWindow(window: stableWindow, algorithm: algorithm),
                panic: BucketWindow(window: panicWindow, algorithm: algorithm))
        }
        windows[metric]!.stable.record(value, at: time)
        windows[metric]!.panic.record(value, at: time)
    }

    /// Records the request signals of one stat: what the reporter saw minus what the activator
    /// already reported for the same requests, so proxied requests are not counted twice.
    public mutating func record(_ stat: RequestStat, at time: Timestamp) {
        record(stat.averageConcurrency - stat.averageProxiedConcurrency, for: .concurrency, at: time)
        record(stat.requestCount - stat.proxiedRequestCount, for: .rps, at: time)
    }

    /// The averages of `metric` at `now`, or nil when nothing was recorded during the last stable window.
    public func averages(for metric: MetricKind, at now: Timestamp) -> WindowAverages? {
        if metric.isPushed {
            // The stable window holds a sample whenever the panic window does, not the other way round.
            guard let samples = sampled[metric], let stable = samples.average(at: now) else { return nil }
            return WindowAverages(stable: stable, panic: samples.average(over: panicWindow, at: now) ?? stable)
        }
        guard let pair = windows[metric], !pair.stable.isEmpty(at: now) else { return nil }
        return WindowAverages(stable: pair.stable.average(at: now), panic: pair.panic.average(at: now))
    }

    /// Applies new window lengths, keeping the data that still fits.
    public mutating func resize(stableWindow: Duration, panicWindow: Duration, at now: Timestamp) {
        self.stableWindow = stableWindow
        self.panicWindow = panicWindow
        for metric in windows.keys {
            windows[metric]!.stable.resize(to: stableWindow, at: now)
            windows[metric]!.panic.resize(to: panicWindow, at: now)
        }
        for metric in sampled.keys { sampled[metric]!.resize(to: stableWindow) }
    }
}

/// The stable- and panic-window values of one signal at one moment.
public struct WindowAverages: Sendable, Equatable {
    public var stable: Double
    public var panic: Double

    public init(stable: Double, panic: Double) {
        self.stable = stable
        self.panic = panic
    }
}

/// What a sidecar or an activator reports about requests for one target over one reporting period.
///
/// The proxied fields carry the part of the traffic that came through an activator, which reports
/// those requests itself; the aggregator subtracts them so nothing is counted twice.
public struct RequestStat: Sendable, Equatable {
    public var averageConcurrency: Double
    public var averageProxiedConcurrency: Double
    public var requestCount: Double
    public var proxiedRequestCount: Double

    public init(averageConcurrency: Double, requestCount: Double,
                averageProxiedConcurrency: Double = 0, proxiedRequestCount: Double = 0) {
        self.averageConcurrency = averageConcurrency
        self.averageProxiedConcurrency = averageProxiedConcurrency
        self.requestCount = requestCount
        self.proxiedRequestCount = proxiedRequestCount
    }
}
