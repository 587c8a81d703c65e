/// A point in time as a plain value, so every rule of the decision core can be driven by a test or
/// a trace instead of the wall clock.
///
/// It counts nanoseconds since the Unix epoch. Knative keys its buckets by Unix seconds (and its
/// scale-down-delay window by Unix seconds / 2), so the epoch is part of the behaviour, not a detail.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// A time given in (possibly fractional) seconds since the epoch, rounded to the nanosecond.
    public init(seconds: Double) {
        self.nanosecondsSinceEpoch = Int64((seconds * 1e9).rounded())
    }

    public static let epoch = Timestamp(nanosecondsSinceEpoch: 0)

    public var seconds: Double { Double(nanosecondsSinceEpoch) / 1e9 }

    /// Whole seconds since the epoch, rounded down (Go's `time.Unix()`).
    public var unixSeconds: Int64 { nanosecondsSinceEpoch.flooredDivision(by: 1_000_000_000) }

    /// This time rounded down to a multiple of `granularity` (Go's `time.Truncate`).
    public func truncated(to granularity: Duration) -> Timestamp {
        let step = granularity.nanoseconds
        return Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch.flooredDivision(by: step) * step)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: lhs.nanosecondsSinceEpoch + rhs.nanoseconds)
    }

    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: lhs.nanosecondsSinceEpoch - rhs.nanoseconds)
    }

    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        .nanoseconds(lhs.nanosecondsSinceEpoch - rhs.nanosecondsSinceEpoch)
    }

    public var description: String { "t=\(seconds)s" }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating far beyond any window this code uses).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A duration from (possibly fractional) seconds, rounded to the nanosecond.
    public static func seconds(fractional value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e9).rounded()))
    }
}

extension Int64 {
    /// Division that rounds towards negative infinity, so times before a boundary land in the earlier bucket.
    func flooredDivision(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// A remainder that is never negative, for ring-buffer indices.
    func nonNegativeRemainder(dividingBy divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
