import Foundation

/// The values of a gauge sampled now and then (the collector's per-target GPU total, once per
/// collector interval), averaged over a trailing window.
///
/// `BucketWindow` adds everything reported in a second and divides by seconds, which is right for
/// request counts from many reporters, where a second without a report is a second without
/// requests. A sampled gauge is different: a second without a sample says nothing, and two samples
/// in one second are two readings of the same level, not twice the level. So the average here is
/// the mean of the samples inside the window, however far apart they arrived. Under
/// `weightedExponential` each sample weighs what a bucket of its age weighs in `BucketWindow`, and
/// the weights are normalised, so a steady level reads as that level either way.
public struct SampleWindow: Sendable {
    public private(set) var window: Duration
    public let algorithm: AggregationAlgorithm
    /// Oldest first. One sample per collector interval, so the window holds few.
    private var samples: [(time: Timestamp, value: Double)] = []

    public init(window: Duration, algorithm: AggregationAlgorithm = .linear) {
        self.window = window
        self.algorithm = algorithm
    }

    public mutating func record(_ value: Double, at time: Timestamp) {
        // Reports can arrive out of order (a backlog after an outage): keep the list sorted.
        let index = samples.lastIndex { $0.time <= time }.map { $0 + 1 } ?? 0
        samples.insert((time, value), at: index)
        dropSamples(before: samples[samples.count - 1].time - window)
    }

    /// Nil when no sample is newer than `now - window`. Rounded to 6 decimals, as `BucketWindow` is,
    /// so float noise never adds a replica through the decider's ceiling.
    public func average(over window: Duration? = nil, at now: Timestamp) -> Double? {
        let length = window ?? self.window
        let start = now - length
        let decay = 1 - BucketWindow.smoothingCoefficient(buckets: BucketWindow.bucketCount(window: length, granularity: .seconds(1)))
        var total = 0.0
        var weights = 0.0
        for sample in samples.reversed() {
            guard sample.time > start else { break }
            guard sample.time <= now else { continue }
            let weight: Double
            switch algorithm {
            case .linear: weight = 1
            case .weightedExponential: weight = pow(decay, Double((now - sample.time).nanoseconds / 1_000_000_000))
            }
            total += sample.value * weight
            weights += weight
        }
        return weights == 0 ? nil : BucketWindow.rounded(total / weights)
    }

    public mutating func resize(to newWindow: Duration) {
        window = newWindow
        if let newest = samples.last { dropSamples(before: newest.time - newWindow) }
    }

    private mutating func dropSamples(before start: Timestamp) {
        samples.removeAll { $0.time <= start }
    }
}
