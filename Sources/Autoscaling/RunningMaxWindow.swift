/// The maximum of the values recorded during the last N buckets, in O(1) amortised per record.
///
/// It is what makes `scale-down-delay` work: the decision is the highest desired count of the last
/// delay period, so a dip shorter than the delay never removes replicas. Buckets are keyed by
/// `Unix seconds / granularity`, exactly as Knative keys them, so the window is aligned to the clock.
public struct RunningMaxWindow: Sendable {
    private struct Entry: Sendable {
        var value: Int
        var index: Int64
    }

    public let granularity: Duration
    /// Descending values with ascending indices, stored as a ring.
    private var maxima: [Entry]
    private var first = 0
    private var length = 0

    public init(duration: Duration, granularity: Duration = .seconds(2)) {
        self.granularity = granularity
        let count = max(1, BucketWindow.bucketCount(window: duration, granularity: granularity))
        maxima = Array(repeating: Entry(value: 0, index: 0), count: count)
    }

    /// The number of buckets a value stays in the window.
    public var bucketCount: Int { maxima.count }

    public mutating func record(_ value: Int, at time: Timestamp) {
        let seconds = granularity.nanoseconds / 1_000_000_000
        record(value, index: time.unixSeconds.flooredDivision(by: max(1, seconds)))
    }

    /// The largest value still in the window; 0 before the first record.
    public var current: Int { maxima[first].value }

    private mutating func record(_ newValue: Int, index: Int64) {
        var value = newValue
        // Older, smaller values can never be the maximum again.
        while length > 0, value >= maxima[slot(first + length - 1)].value {
            length -= 1
        }
        // Drop values that have aged out of the window.
        while length > 0, index - maxima[first].index >= Int64(maxima.count) {
            length -= 1
            first = (first + 1) % maxima.count
        }
        // Several values in one bucket keep the largest.
        if length > 0 {
            let last = maxima[slot(first + length - 1)]
            if last.index == index {
                value = max(value, last.value)
                length -= 1
            }
        }
        maxima[slot(first + length)] = Entry(value: value, index: index)
        length += 1
    }

    private func slot(_ i: Int) -> Int { i % maxima.count }
}
