/// What to do when a pushed signal (the collector's GPU utilization) keeps failing: after
/// `afterFailures` failed reads in a row, the target runs `replicas` replicas until a value
/// arrives again, as KEDA's `fallback` does.
///
/// Before that, and without a fallback, a failing signal holds the current scale: missing data is
/// never read as zero load. A fallback is for the operator who would rather pay for a known
/// capacity than stay at whatever the scale was when Prometheus went away.
public struct SignalFallback: Sendable, Equatable {
    public var replicas: Int
    public var afterFailures: Int

    /// KEDA's default `failureThreshold`.
    public static let defaultAfterFailures = 3

    public init(replicas: Int, afterFailures: Int = SignalFallback.defaultAfterFailures) {
        self.replicas = replicas
        self.afterFailures = afterFailures
    }
}
