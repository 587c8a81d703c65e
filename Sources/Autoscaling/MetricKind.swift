/// The signal a target is scaled on.
///
/// An open set rather than an enum: the decision code only ever asks for "the stable and panic
/// averages of the metric in the spec", so a new signal (GPU utilization from the collector) is a
/// new value here plus a rule for its default target, and nothing in `Decider` changes.
public struct MetricKind: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    /// In-flight requests per replica (Knative's default).
    public static let concurrency = MetricKind("concurrency")
    /// Requests per second per replica.
    public static let rps = MetricKind("rps")
    /// GPU utilization per replica, in percent (DCGM's `DCGM_FI_DEV_GPU_UTIL`), pushed by the collector.
    public static let gpu = MetricKind("gpu")

    /// Pushed by the collector rather than measured from requests: a missing value is missing data
    /// (the scale holds), and request reports never move it.
    public var isPushed: Bool { self == .gpu }

    public var description: String { name }
}

/// How a window of 1-second buckets is folded into one value.
public enum AggregationAlgorithm: String, Sendable, CaseIterable {
    /// The mean over the (possibly partial) window, rounded to 6 decimals.
    case linear
    /// Exponentially decaying weights, newest bucket heaviest; not normalised, not rounded.
    case weightedExponential = "weighted-exponential"
}
