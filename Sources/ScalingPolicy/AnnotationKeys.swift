/// The annotation keys Thaw reads from a Pod template.
///
/// Knative's keys (with their legacy camelCase aliases; the first spelling present wins) keep
/// existing manifests working; `autoscaling.thaw.dev/` keys cover what Knative can only set
/// cluster-wide.
public enum AnnotationKeys {
    public static let knativePrefix = "autoscaling.knative.dev/"
    public static let thawPrefix = "autoscaling.thaw.dev/"
    public static let kpaClass = "kpa.autoscaling.knative.dev"
    /// Thaw's own class on a cluster: the KPA's rules, on workloads Knative leaves alone (it ignores
    /// classes that are not its own), so Knative and Thaw can share a cluster.
    public static let thawClass = "kpa.thaw.dev"
    public static let hpaClass = "hpa.autoscaling.knative.dev"

    /// One setting and the spellings it accepts, in priority order.
    public struct Key: Sendable, Hashable {
        public let spellings: [String]
        public var name: String { spellings[0] }

        init(_ spellings: String...) { self.spellings = spellings }

        /// The first spelling present in `annotations`, with its value.
        public func lookup(in annotations: [String: String]) -> (key: String, value: String)? {
            for key in spellings { if let value = annotations[key] { return (key, value) } }
            return nil
        }
    }

    static func knative(_ name: String, alias: String? = nil) -> Key {
        alias.map { Key(knativePrefix + name, knativePrefix + $0) } ?? Key(knativePrefix + name)
    }

    public static let `class` = knative("class")
    public static let metric = knative("metric")
    public static let target = knative("target")
    public static let targetUtilizationPercentage = knative("target-utilization-percentage", alias: "targetUtilizationPercentage")
    public static let targetBurstCapacity = knative("target-burst-capacity", alias: "targetBurstCapacity")
    public static let minScale = knative("min-scale", alias: "minScale")
    public static let maxScale = knative("max-scale", alias: "maxScale")
    public static let initialScale = knative("initial-scale", alias: "initialScale")
    public static let activationScale = knative("activation-scale")
    public static let window = knative("window")
    public static let panicWindowPercentage = knative("panic-window-percentage", alias: "panicWindowPercentage")
    public static let panicThresholdPercentage = knative("panic-threshold-percentage", alias: "panicThresholdPercentage")
    public static let scaleToZeroPodRetentionPeriod = knative("scale-to-zero-pod-retention-period",
                                                              alias: "scaleToZeroPodRetentionPeriod")
    public static let scaleDownDelay = knative("scale-down-delay", alias: "scaleDownDelay")
    public static let metricAggregationAlgorithm = knative("metric-aggregation-algorithm", alias: "metricAggregationAlgorithm")
    /// Knative's per-revision deadline for becoming ready; the activation timeout is this plus 30 s.
    public static let progressDeadline = Key("serving.knative.dev/progress-deadline")

    /// Per-target scale rate limits, which Knative allows only in its ConfigMap.
    public static let maxScaleUpRate = Key(thawPrefix + "max-scale-up-rate")
    public static let maxScaleDownRate = Key(thawPrefix + "max-scale-down-rate")
    /// Per-target grace period before the last replica goes, which Knative allows only in its ConfigMap.
    public static let scaleToZeroGracePeriod = Key(thawPrefix + "scale-to-zero-grace-period")
    /// GPU utilization (percent per replica) as a second signal next to concurrency or rps: the
    /// target gets the larger of the two desired counts.
    public static let gpuTarget = Key(thawPrefix + "gpu-target")
    /// KEDA's `fallback`, for signals the collector reads: the replica count to run once the signal
    /// has failed `fallback-after-failures` reads in a row (default 3). Without it the scale is held.
    public static let fallbackReplicas = Key(thawPrefix + "fallback-replicas")
    public static let fallbackAfterFailures = Key(thawPrefix + "fallback-after-failures")

    /// Which rules decide: `thaw` (the default: load-aware, learned keep-warm) or `kpa` (Knative's, exactly).
    public static let policy = Key(thawPrefix + "policy")
    /// How long a replica takes from being asked for to ready, until Thaw has measured some starts.
    public static let loadTime = Key(thawPrefix + "load-time")

    /// Every key Thaw understands.
    public static let all: [Key] = [
        `class`, metric, target, targetUtilizationPercentage, targetBurstCapacity, minScale, maxScale, initialScale,
        activationScale, window, panicWindowPercentage, panicThresholdPercentage, scaleToZeroPodRetentionPeriod,
        scaleDownDelay, metricAggregationAlgorithm, progressDeadline, maxScaleUpRate, maxScaleDownRate,
        scaleToZeroGracePeriod, gpuTarget, fallbackReplicas, fallbackAfterFailures, policy, loadTime,
    ]
}
