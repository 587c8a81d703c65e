/// The values of a gauge sampled now and then (the collector's per-target GPU total, once per
/// collector interval), averaged over a trailing window.
///
/// `BucketWindow` adds everything reported in a second and divides by seconds, which is right for
/// request counts from many reporters, where a second without a report is a second without
/// requests. A sampled gauge is different: a second without a sample says nothing, and two samples
/// in one second are two readings of the same level, not twice the level. So the average here is
/// the mean of the samples inside the window, however far apart they arrived.
public struct SampleWindow: Sendable {
    public private(set) var window: Duration
    /// Oldest first. One sample per collector interval, so the window holds few.
    private var samples: [(time: Timestamp, value: Double)] = []

    public init(window: Duration) {
        self.window = window
    }

    public mutating func record(_ value: Double, at time: Timestamp) {
        // Reports can arrive out of order (a backlog after an outage): keep the list sorted.
        let index = samples.lastIndex { $0.time <= time }.map { $0 + 1 } ?? 0
        samples.insert((time, value), at: index)
        dropSamples(before: samples[samples.count - 1].time - window)
    }

    /// Nil when no sample is newer than `now - window`.
    public func average(over window: Duration? = nil, at now: Timestamp) -> Double? {
        let start = now - (window ?? self.window)
        var total = 0.0
        var count = 0
        for sample in samples.reversed() {
            guard sample.time > start else { break }
            guard sample.time <= now else { continue }
            total += sample.value
            count += 1
        }
        return count == 0 ? nil : total / Double(count)
    }

    public mutating func resize(to newWindow: Duration) {
        window = newWindow
        if let newest = samples.last { dropSamples(before: newest.time - newWindow) }
    }

    private mutating func dropSamples(before start: Timestamp) {
        samples.removeAll { $0.time <= start }
    }
}
