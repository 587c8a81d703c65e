import Foundation

/// A ring of fixed-width time buckets whose values are summed per bucket and averaged over a window.
///
/// This is the aggregation every scaling signal goes through. It reproduces Knative's
/// `TimedFloat64Buckets` (and its weighted variant) rule for rule, because users compare our
/// decisions with theirs: values landing in the same bucket are added, a gap zeroes the skipped
/// buckets, a whole window of silence resets the window, and an average over young or stale data
/// covers only the part of the window that has data.
public struct BucketWindow: Sendable {
    public let granularity: Duration
    public private(set) var window: Duration
    public let algorithm: AggregationAlgorithm

    private var buckets: [Double]
    private var windowTotal: Double = 0
    /// Bucket-aligned time of the first write of the current run of data; nil before any write.
    private var firstWrite: Timestamp?
    /// Bucket-aligned time of the newest write; nil before any write.
    private var lastWrite: Timestamp?
    private var smoothingCoefficient: Double

    public init(window: Duration, granularity: Duration = .seconds(1), algorithm: AggregationAlgorithm = .linear) {
        precondition(granularity > .zero && window > .zero, "window and granularity must be positive")
        self.granularity = granularity
        self.window = window
        self.algorithm = algorithm
        let count = Self.bucketCount(window: window, granularity: granularity)
        self.buckets = Array(repeating: 0, count: count)
        self.smoothingCoefficient = Self.smoothingCoefficient(buckets: count)
    }

    public var bucketCount: Int { buckets.count }

    /// True when nothing was written during the last window before `now`.
    public func isEmpty(at now: Timestamp) -> Bool {
        guard let lastWrite else { return true }
        return now.truncated(to: granularity) - lastWrite > window
    }

    /// Adds `value` to the bucket of `time`. Writes older than a window before the newest write are dropped.
    public mutating func record(_ value: Double, at time: Timestamp) {
        let bucketTime = time.truncated(to: granularity)
        let writeIndex = index(of: time)
        if lastWrite != bucketTime {
            if let lastWrite, bucketTime + window <= lastWrite { return }
            if firstWrite == nil || firstWrite! > bucketTime {
                firstWrite = bucketTime
            }
            if lastWrite == nil || bucketTime > lastWrite! {
                if let lastWrite, bucketTime - lastWrite < window {
                    var i = index(of: lastWrite) + 1
                    while i <= writeIndex {
                        let slot = ringSlot(i)
                        windowTotal -= buckets[slot]
                        buckets[slot] = 0
                        i += 1
                    }
                } else {
                    firstWrite = bucketTime
                    for slot in buckets.indices { buckets[slot] = 0 }
                    windowTotal = 0
                }
                lastWrite = bucketTime
            }
        }
        buckets[ringSlot(writeIndex)] += value
        windowTotal += value
    }

    /// The window's value at `now` under the window's algorithm.
    public func average(at now: Timestamp) -> Double {
        switch algorithm {
        case .linear: return linearAverage(at: now)
        case .weightedExponential: return weightedAverage(at: now)
        }
    }

    /// Changes the window length, keeping the newest buckets that still fit.
    public mutating func resize(to newWindow: Duration, at now: Timestamp) {
        guard newWindow != window else { return }
        let newCount = Self.bucketCount(window: newWindow, granularity: granularity)
        var newBuckets = Array(repeating: 0.0, count: newCount)
        var newTotal = 0.0
        if let lastWrite, now.truncated(to: granularity) - lastWrite <= window {
            let oldCount = buckets.count
            var index = index(of: lastWrite)
            for _ in 0..<min(newCount, oldCount) {
                let value = buckets[ringSlot(index)]
                newBuckets[Int(index.nonNegativeRemainder(dividingBy: Int64(newCount)))] = value
                newTotal += value
                index -= 1
            }
            firstWrite = lastWrite - granularity * (oldCount - 1)
        } else {
            firstWrite = nil
        }
        window = newWindow
        buckets = newBuckets
        windowTotal = newTotal
        smoothingCoefficient = Self.smoothingCoefficient(buckets: newCount)
    }

    // MARK: - Averages

    private func linearAverage(at now: Timestamp) -> Double {
        guard let lastWrite, let firstWrite else { return 0 }
        let now = now.truncated(to: granularity)
        let sinceLastWrite = now - lastWrite
        let writtenBuckets = Int64((lastWrite - firstWrite).nanoseconds / granularity.nanoseconds) + 1
        if sinceLastWrite <= .zero {
            let divisor = min(writtenBuckets, Int64(buckets.count))
            return Self.rounded(windowTotal / Double(divisor))
        }
        guard sinceLastWrite < window else { return 0 }
        let startIndex = index(of: lastWrite)
        let endIndex = index(of: now)
        var total = windowTotal
        var i = startIndex + 1
        while i <= endIndex {
            total -= buckets[ringSlot(i)]
            i += 1
        }
        let divisor = min(writtenBuckets, Int64(buckets.count) - (endIndex - startIndex))
        return Self.rounded(total / Double(divisor))
    }

    private func weightedAverage(at now: Timestamp) -> Double {
        guard let lastWrite, !isEmpty(at: now) else { return 0 }
        let now = now.truncated(to: granularity)
        var multiplier = smoothingCoefficient
        var usable = buckets.count
        if now > lastWrite {
            let zeros = Int((now - lastWrite).nanoseconds / granularity.nanoseconds)
            multiplier *= pow(1 - smoothingCoefficient, Double(zeros))
            usable -= zeros
        }
        let start = index(of: lastWrite)
        var result = 0.0
        var i = 0
        while i < usable {
            result += buckets[ringSlot(start - Int64(i))] * multiplier
            multiplier *= 1 - smoothingCoefficient
            i += 1
        }
        return result
    }

    // MARK: - Helpers

    private func index(of time: Timestamp) -> Int64 {
        time.nanosecondsSinceEpoch.flooredDivision(by: granularity.nanoseconds)
    }

    private func ringSlot(_ index: Int64) -> Int {
        Int(index.nonNegativeRemainder(dividingBy: Int64(buckets.count)))
    }

    static func bucketCount(window: Duration, granularity: Duration) -> Int {
        let w = window.nanoseconds, g = granularity.nanoseconds
        return Int((w + g - 1) / g)
    }

    /// The decay per bucket: large enough that the weights of a full window sum to 0.9999, never below 0.2.
    static func smoothingCoefficient(buckets: Int) -> Double {
        max(1 - pow(1 - 0.9999, 1 / Double(buckets)), 0.2)
    }

    static func rounded(_ value: Double) -> Double {
        (value * 1e6).rounded(.toNearestOrAwayFromZero) / 1e6
    }
}
