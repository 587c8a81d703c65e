/// One sample of a stored series: milliseconds since the Unix epoch, and a value.
public struct SeriesPoint: Sendable, Equatable {
    public var timestampMilliseconds: Int64
    public var value: Double

    public init(_ timestampMilliseconds: Int64, _ value: Double) {
        self.timestampMilliseconds = timestampMilliseconds
        self.value = value
    }
}

/// One series: its labels and its samples in time order, as remote read returns it.
public struct Series: Sendable, Equatable {
    public var labels: [String: String]
    public var points: [SeriesPoint]

    public init(labels: [String: String], points: [SeriesPoint]) {
        self.labels = labels
        self.points = points
    }
}

/// How the series of one signal turn into one value per replica over a window: the step between
/// what Prometheus stores and what the decider's windows record.
public enum SeriesReduction: Sendable, Equatable {
    /// The mean of the samples in the window (GPU utilization, queue depth).
    case gaugeAverage
    /// The per-second increase over the window, counter resets handled (requests served).
    case counterRate

    /// The value of one series over the window `[start, end]` (milliseconds), or nil without samples
    /// (missing data is never read as zero).
    public func value(of points: [SeriesPoint], from start: Int64, to end: Int64) -> Double? {
        let inWindow = points.filter { $0.timestampMilliseconds >= start && $0.timestampMilliseconds <= end && !$0.value.isNaN }
        switch self {
        case .gaugeAverage:
            guard !inWindow.isEmpty else { return nil }
            return inWindow.reduce(0) { $0 + $1.value } / Double(inWindow.count)
        case .counterRate:
            guard inWindow.count >= 2, let first = inWindow.first, let last = inWindow.last,
                  last.timestampMilliseconds > first.timestampMilliseconds else { return nil }
            var increase = 0.0
            for (previous, next) in zip(inWindow, inWindow.dropFirst()) {
                // A drop means the counter restarted from zero: everything it counted since is new.
                increase += next.value >= previous.value ? next.value - previous.value : next.value
            }
            return increase / (Double(last.timestampMilliseconds - first.timestampMilliseconds) / 1000)
        }
    }
}

/// How the values of several series of one replica (one per GPU) combine.
public enum ReplicaCombination: String, Sendable, CaseIterable {
    case sum
    case average

    public func combine(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let total = values.reduce(0, +)
        return self == .sum ? total : total / Double(values.count)
    }
}

/// A signal's per-replica values from labelled series: each series reduced over the window, grouped
/// by replica through its labels, and combined per replica.
public struct ReplicaValues: Sendable {
    public var reduction: SeriesReduction
    public var combination: ReplicaCombination
    public var exporterPods: Set<String>

    public init(reduction: SeriesReduction, combination: ReplicaCombination, exporterPods: Set<String> = []) {
        self.reduction = reduction
        self.combination = combination
        self.exporterPods = exporterPods
    }

    /// Series that belong to no replica or have no samples in the window are left out.
    public func values(of series: [Series], from start: Int64, to end: Int64) -> [ReplicaRef: Double] {
        var byReplica: [ReplicaRef: [Double]] = [:]
        for one in series {
            guard let replica = ReplicaLabels.replica(of: one.labels, exporterPods: exporterPods),
                  let value = reduction.value(of: one.points, from: start, to: end) else { continue }
            byReplica[replica, default: []].append(value)
        }
        return byReplica.compactMapValues(combination.combine)
    }
}
