import Autoscaling

/// Cluster-wide autoscaling defaults, read from the keys of Knative's `config-autoscaler` ConfigMap
/// so an existing Knative configuration carries over unchanged.
///
/// One default differs, from the MLService model: `min-scale` is 1, so a release scales to zero
/// only when it asks for it with 0.
public struct AutoscalerConfig: Sendable, Equatable {
    public var podAutoscalerClass = AnnotationKeys.kpaClass
    public var enableScaleToZero = true
    public var allowZeroInitialScale = false
    /// Utilization of the container concurrency to aim for, as a fraction in (0, 1].
    public var containerConcurrencyTargetFraction = 0.7
    public var containerConcurrencyTargetDefault = 100.0
    /// Utilization for the rps metric; not settable in Knative's ConfigMap, only by annotation.
    public var targetUtilization = 0.7
    public var requestsPerSecondTargetDefault = 200.0
    public var targetBurstCapacity = 211.0
    public var stableWindow: Duration = .seconds(60)
    public var panicWindowPercentage = 10.0
    public var panicThresholdPercentage = 200.0
    public var maxScaleUpRate = 1000.0
    public var maxScaleDownRate = 2.0
    public var activatorCapacity = 100.0
    public var scaleToZeroGracePeriod: Duration = .seconds(30)
    public var scaleToZeroPodRetentionPeriod: Duration = .zero
    public var scaleDownDelay: Duration = .zero
    public var initialScale = 1
    public var minScale = 1
    public var maxScale = 0
    public var maxScaleLimit = 0
    /// From Knative's `config-deployment`; the activation timeout is this plus 30 seconds.
    public var progressDeadline: Duration = .seconds(600)

    public init() {}

    /// The keys this reads, for messages and `--help`.
    public static let keys = [
        "pod-autoscaler-class", "enable-scale-to-zero", "allow-zero-initial-scale",
        "container-concurrency-target-percentage", "container-concurrency-target-default",
        "requests-per-second-target-default", "target-burst-capacity", "stable-window",
        "panic-window-percentage", "panic-threshold-percentage", "max-scale-up-rate", "max-scale-down-rate",
        "activator-capacity", "scale-to-zero-grace-period", "scale-to-zero-pod-retention-period",
        "scale-down-delay", "initial-scale", "min-scale", "max-scale", "max-scale-limit", "progress-deadline",
    ]

    /// Reads a `config-autoscaler` data map over the defaults and validates it with Knative's ranges.
    /// - Throws: `PolicyError` listing every bad or unknown key.
    public init(data: [String: String]) throws {
        self.init()
        var issues = IssueCollector()
        for key in data.keys.sorted() where !Self.keys.contains(key) {
            issues.add(key, nil, "is not a config-autoscaler key; known keys: \(Self.keys.joined(separator: ", "))")
        }
        func read<T>(_ key: String, _ parse: (inout IssueCollector, String, String) -> T?, into field: inout T) {
            if let text = data[key], let value = parse(&issues, key, text) { field = value }
        }
        read("pod-autoscaler-class", { _, _, text in text }, into: &podAutoscalerClass)
        read("enable-scale-to-zero", { $0.bool($1, $2) }, into: &enableScaleToZero)
        read("allow-zero-initial-scale", { $0.bool($1, $2) }, into: &allowZeroInitialScale)
        read("max-scale-up-rate", { $0.float($1, $2, "a number greater than 1") }, into: &maxScaleUpRate)
        read("max-scale-down-rate", { $0.float($1, $2, "a number greater than 1") }, into: &maxScaleDownRate)
        read("container-concurrency-target-percentage", { $0.float($1, $2, "a percentage in (0, 100]") },
             into: &containerConcurrencyTargetFraction)
        read("container-concurrency-target-default", { $0.float($1, $2, "a number of at least 0.01") },
             into: &containerConcurrencyTargetDefault)
        read("requests-per-second-target-default", { $0.float($1, $2, "a number of at least 0.01") },
             into: &requestsPerSecondTargetDefault)
        read("target-burst-capacity", { $0.float($1, $2, "a number of at least 0, or -1") }, into: &targetBurstCapacity)
        read("panic-window-percentage", { $0.float($1, $2, "a percentage in [1, 100]") }, into: &panicWindowPercentage)
        read("activator-capacity", { $0.float($1, $2, "a number of at least 1") }, into: &activatorCapacity)
        read("panic-threshold-percentage", { $0.float($1, $2, "a percentage in [110, 1000]") },
             into: &panicThresholdPercentage)
        read("initial-scale", { $0.int($1, $2, "a whole number of at least 0") }, into: &initialScale)
        read("min-scale", { $0.int($1, $2, "a whole number of at least 0") }, into: &minScale)
        read("max-scale", { $0.int($1, $2, "a whole number of at least 0 (0 = unbounded)") }, into: &maxScale)
        read("max-scale-limit", { $0.int($1, $2, "a whole number of at least 0 (0 = no limit)") }, into: &maxScaleLimit)
        read("stable-window", { $0.duration($1, $2, "6s to 1h0m0s") }, into: &stableWindow)
        read("scale-down-delay", { $0.duration($1, $2, "0s to 1h0m0s") }, into: &scaleDownDelay)
        read("scale-to-zero-grace-period", { $0.duration($1, $2, "a positive duration") }, into: &scaleToZeroGracePeriod)
        read("scale-to-zero-pod-retention-period", { $0.duration($1, $2, "a duration of at least 0s") },
             into: &scaleToZeroPodRetentionPeriod)
        read("progress-deadline", { $0.duration($1, $2, "a positive duration") }, into: &progressDeadline)

        if containerConcurrencyTargetFraction > 1 { containerConcurrencyTargetFraction /= 100 }
        validate(data: data, into: &issues)
        if !issues.issues.isEmpty { throw PolicyError(issues: issues.issues) }
    }

    private func validate(data: [String: String], into issues: inout IssueCollector) {
        func check(_ ok: Bool, _ key: String, _ problem: String) {
            if !ok { issues.add(key, data[key], problem) }
        }
        let windowMin = Duration.seconds(6), windowMax = Duration.seconds(3600)
        check(scaleToZeroGracePeriod > .zero, "scale-to-zero-grace-period", "must be positive")
        check(scaleDownDelay >= .zero && scaleDownDelay <= windowMax, "scale-down-delay",
              "is out of range; expected 0s to 1h0m0s")
        check(scaleDownDelay.isWholeSeconds, "scale-down-delay", "must be whole seconds")
        check(scaleToZeroPodRetentionPeriod >= .zero, "scale-to-zero-pod-retention-period", "cannot be negative")
        check(targetBurstCapacity >= 0 || targetBurstCapacity == -1, "target-burst-capacity",
              "is out of range; expected a number of at least 0, or -1 for unlimited")
        check(containerConcurrencyTargetFraction > 0 && containerConcurrencyTargetFraction <= 1,
              "container-concurrency-target-percentage", "is out of range; expected a percentage in (0, 100]")
        let defaultTarget = containerConcurrencyTargetFraction * containerConcurrencyTargetDefault
        check(defaultTarget >= 0.01, "container-concurrency-target-default",
              "with container-concurrency-target-percentage gives a target concurrency of \(defaultTarget); it must be at least 0.01")
        check(requestsPerSecondTargetDefault >= 0.01, "requests-per-second-target-default",
              "is out of range; expected at least 0.01")
        check(activatorCapacity >= 1, "activator-capacity", "is out of range; expected at least 1")
        check(maxScaleUpRate > 1, "max-scale-up-rate", "is out of range; expected a number greater than 1")
        check(maxScaleDownRate > 1, "max-scale-down-rate", "is out of range; expected a number greater than 1")
        check(stableWindow >= windowMin && stableWindow <= windowMax, "stable-window",
              "is out of range; expected 6s to 1h0m0s")
        check(stableWindow.isWholeSeconds, "stable-window", "must be whole seconds")
        check(panicWindowPercentage >= 1 && panicWindowPercentage <= 100, "panic-window-percentage",
              "is out of range; expected a percentage in [1, 100]")
        check(panicThresholdPercentage >= 110 && panicThresholdPercentage <= 1000, "panic-threshold-percentage",
              "is out of range; expected a percentage in [110, 1000]")
        check(initialScale > 0 || (initialScale == 0 && allowZeroInitialScale), "initial-scale",
              allowZeroInitialScale ? "is out of range; expected at least 0"
                  : "is out of range; expected at least 1 (0 needs allow-zero-initial-scale: true)")
        check(minScale >= 0, "min-scale", "is out of range; expected at least 0")
        check(maxScaleLimit >= 0, "max-scale-limit", "is out of range; expected at least 0")
        if maxScaleLimit > 0 {
            check(maxScale >= 1 && maxScale <= maxScaleLimit, "max-scale",
                  "is out of range; expected 1 to max-scale-limit (\(maxScaleLimit))")
        } else {
            check(maxScale >= 0, "max-scale", "is out of range; expected at least 0 (0 = unbounded)")
        }
        check(!(maxScale > 0 && minScale > maxScale), "min-scale",
              "is greater than max-scale (\(maxScale)); min-scale must not exceed max-scale")
        check(progressDeadline > .zero, "progress-deadline", "must be positive")
        check(podAutoscalerClass == AnnotationKeys.kpaClass, "pod-autoscaler-class",
              "is not a class Thaw scales; expected \(AnnotationKeys.kpaClass)")
    }
}

extension Duration {
    var isWholeSeconds: Bool { nanoseconds % 1_000_000_000 == 0 }
}
