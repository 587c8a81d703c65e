import Autoscaling

/// The autoscaling settings a Pod template carries, parsed and validated with Knative's ranges.
///
/// Every field is optional: an absent annotation falls back to the cluster's `AutoscalerConfig`
/// when the policy is resolved. Validation reports every problem at once, each naming the key, the
/// value and what would be valid; unknown keys under our prefixes are reported too, since a typo
/// there would otherwise be silently ignored.
public struct AutoscalingAnnotations: Sendable, Equatable {
    public var metric: MetricKind?
    public var target: Double?
    /// As a fraction (the annotation is a percentage).
    public var targetUtilization: Double?
    public var targetBurstCapacity: Double?
    public var minScale: Int?
    public var maxScale: Int?
    public var initialScale: Int?
    public var activationScale: Int?
    public var window: Duration?
    public var panicWindowPercentage: Double?
    public var panicThresholdPercentage: Double?
    public var scaleToZeroPodRetention: Duration?
    public var scaleDownDelay: Duration?
    public var aggregation: AggregationAlgorithm?
    public var progressDeadline: Duration?
    public var maxScaleUpRate: Double?
    public var maxScaleDownRate: Double?
    public var scaleToZeroGracePeriod: Duration?
    /// A GPU-utilization target (percent per replica) used alongside the primary metric.
    public var gpuTarget: Double?
    /// Replicas to run once a collector-read signal keeps failing (`fallback-replicas`).
    public var fallbackReplicas: Int?
    /// Failed reads in a row before the fallback applies (`fallback-after-failures`).
    public var fallbackAfterFailures: Int?
    /// Which rules decide (`autoscaling.thaw.dev/policy`); nil means Thaw's.
    public var policy: ScalingPolicyKind?
    /// The configured load time (`autoscaling.thaw.dev/load-time`).
    public var loadTime: Duration?

    /// The metrics the KPA class can scale on.
    public static let supportedMetrics: [MetricKind] = [.concurrency, .rps, .gpu]

    public init() {}

    /// Parses the autoscaling annotations of a Pod template; other annotations are ignored.
    /// - Throws: `PolicyError` with every problem found.
    public init(_ annotations: [String: String], config: AutoscalerConfig = AutoscalerConfig()) throws {
        var issues = IssueCollector()
        Self.reportUnknownKeys(annotations, into: &issues)
        typealias K = AnnotationKeys
        func value<T>(_ key: AnnotationKeys.Key, _ parse: (inout IssueCollector, String, String) -> T?) -> Found<T>? {
            guard let (name, text) = key.lookup(in: annotations), let parsed = parse(&issues, name, text) else { return nil }
            return Found(key: name, text: text, value: parsed)
        }
        func check<T>(_ ok: Bool, _ found: Found<T>?, _ problem: String) {
            if !ok, let found { issues.add(found.key, found.text, problem) }
        }

        // Thaw scales the KPA's class (Knative's class name, or Thaw's own on a cluster), by its own
        // policy or the KPA's (`autoscaling.thaw.dev/policy`): any other class (HPA) is an error.
        if let (name, text) = K.class.lookup(in: annotations), text != K.kpaClass, text != K.thawClass {
            issues.add(name, text, "is not a class Thaw scales; expected \(K.thawClass) or \(K.kpaClass) (or no class annotation)")
        }

        if let (name, text) = K.metric.lookup(in: annotations) {
            if Self.supportedMetrics.contains(MetricKind(text)) {
                metric = MetricKind(text)
            } else {
                issues.add(name, text, "is not a supported metric; expected one of: "
                    + Self.supportedMetrics.map(\.name).joined(separator: ", "))
            }
        }

        let targetValue = value(K.target) { $0.float($1, $2, "a number of at least 0.01") }
        check((targetValue?.value ?? 1) >= 0.01, targetValue, "is out of range; expected a number of at least 0.01")
        target = targetValue?.value

        let utilization = value(K.targetUtilizationPercentage) { $0.float($1, $2, "a percentage in [1, 100]") }
        check((1...100).contains(utilization?.value ?? 1), utilization, "is out of range; expected a percentage in [1, 100]")
        targetUtilization = utilization.map { $0.value / 100 }

        let tbc = value(K.targetBurstCapacity) { $0.float($1, $2, "a number of at least 0, or -1 for unlimited") }
        check((tbc?.value ?? 0) >= 0 || tbc?.value == -1, tbc, "is out of range; expected a number of at least 0, or -1 for unlimited")
        targetBurstCapacity = tbc?.value

        let minValue = value(K.minScale) { $0.int($1, $2, "a whole number from 0 to 2147483647") }
        check((minValue?.value ?? 0) >= 0, minValue, "is out of range; expected a whole number from 0 to 2147483647")
        let maxValue = value(K.maxScale) { $0.int($1, $2, "a whole number from 0 to 2147483647 (0 = unbounded)") }
        check((maxValue?.value ?? 0) >= 0, maxValue, "is out of range; expected a whole number from 0 to 2147483647 (0 = unbounded)")
        minScale = minValue?.value
        maxScale = maxValue?.value
        let lower = max(0, minScale ?? 0), upper = max(0, maxScale ?? 0)
        check(!(upper != 0 && upper < lower), maxValue, "is less than min-scale (\(lower)); raise max-scale or lower min-scale")
        if config.maxScaleLimit > 0, maxValue != nil {
            check(upper <= config.maxScaleLimit, maxValue, "is out of range; expected 1 to max-scale-limit (\(config.maxScaleLimit))")
            check(upper != 0, maxValue, "means unbounded, which the cluster's max-scale-limit (\(config.maxScaleLimit)) forbids")
        }

        let activation = value(K.activationScale) { $0.int($1, $2, "a whole number of at least 2") }
        if let scale = activation?.value {
            if lower > scale {
                check(false, activation, "is less than min-scale (\(lower)); activation-scale must be at least min-scale")
            } else if upper != 0 && upper < scale {
                check(false, activation, "is greater than max-scale (\(upper)); activation-scale must not exceed max-scale")
            } else {
                check(scale >= 2, activation, "is out of range; expected a whole number of at least 2")
            }
            activationScale = scale
        }

        let initial = value(K.initialScale) { $0.int($1, $2, "a whole number of at least 0") }
        if let scale = initial?.value {
            check(scale >= 0, initial, "is out of range; expected a whole number of at least 0")
            check(scale != 0 || config.allowZeroInitialScale, initial,
                  "is not allowed by the cluster; 0 needs allow-zero-initial-scale: true in the config")
            initialScale = scale
        }

        let windowValue = value(K.window) { $0.duration($1, $2, "6s to 1h0m0s") }
        if let duration = windowValue?.value {
            check(duration >= .seconds(6) && duration <= .seconds(3600), windowValue, "is out of range; expected 6s to 1h0m0s")
            check(duration.isWholeSeconds, windowValue, "must be whole seconds")
            window = duration
        }

        let panicWindow = value(K.panicWindowPercentage) { $0.float($1, $2, "a percentage in [1, 100]") }
        check((1...100).contains(panicWindow?.value ?? 1), panicWindow, "is out of range; expected a percentage in [1, 100]")
        panicWindowPercentage = panicWindow?.value

        let panicThreshold = value(K.panicThresholdPercentage) { $0.float($1, $2, "a percentage in [110, 1000]") }
        check((110...1000).contains(panicThreshold?.value ?? 200), panicThreshold,
              "is out of range; expected a percentage in [110, 1000]")
        panicThresholdPercentage = panicThreshold?.value

        let retention = value(K.scaleToZeroPodRetentionPeriod) { $0.duration($1, $2, "0s to 1h0m0s") }
        check((.zero ... .seconds(3600)).contains(retention?.value ?? .zero), retention, "is out of range; expected 0s to 1h0m0s")
        scaleToZeroPodRetention = retention?.value

        let delay = value(K.scaleDownDelay) { $0.duration($1, $2, "0s to 1h0m0s, whole seconds") }
        if let duration = delay?.value {
            check((.zero ... .seconds(3600)).contains(duration), delay, "is out of range; expected 0s to 1h0m0s")
            check(duration.isWholeSeconds, delay, "must be whole seconds")
            scaleDownDelay = duration
        }

        if let (name, text) = K.metricAggregationAlgorithm.lookup(in: annotations) {
            switch text {
            case "linear": aggregation = .linear
            case "weighted-exponential", "weightedExponential": aggregation = .weightedExponential
            default:
                issues.add(name, text, "is not an aggregation algorithm; expected linear or weighted-exponential")
            }
        }

        let deadline = value(K.progressDeadline) { $0.duration($1, $2, "a positive duration") }
        check((deadline?.value ?? .seconds(1)) > .zero, deadline, "must be positive")
        progressDeadline = deadline?.value

        let upRate = value(K.maxScaleUpRate) { $0.float($1, $2, "a number greater than 1") }
        check((upRate?.value ?? 2) > 1, upRate, "is out of range; expected a number greater than 1")
        maxScaleUpRate = upRate?.value
        let downRate = value(K.maxScaleDownRate) { $0.float($1, $2, "a number greater than 1") }
        check((downRate?.value ?? 2) > 1, downRate, "is out of range; expected a number greater than 1")
        maxScaleDownRate = downRate?.value

        let grace = value(K.scaleToZeroGracePeriod) { $0.duration($1, $2, "a positive duration") }
        check((grace?.value ?? .seconds(1)) > .zero, grace, "must be positive")
        scaleToZeroGracePeriod = grace?.value

        let gpu = value(K.gpuTarget) { $0.float($1, $2, "a utilization percentage in (0, 100]") }
        check((gpu?.value ?? 50) > 0 && (gpu?.value ?? 50) <= 100, gpu, "is out of range; expected a utilization percentage in (0, 100]")
        gpuTarget = gpu?.value
        if let gpu, metric == .gpu {
            issues.add(gpu.key, gpu.text, "is a second signal next to concurrency or rps; with metric gpu, set the target with \(K.target.name)")
        }
        if metric == .gpu, let targetValue, targetValue.value > 100 {
            issues.add(targetValue.key, targetValue.text, "is out of range for metric gpu; expected a utilization percentage in (0, 100]")
        }

        let fallback = value(K.fallbackReplicas) { $0.int($1, $2, "a whole number of replicas, 0 or more") }
        check((fallback?.value ?? 0) >= 0, fallback, "is out of range; expected a whole number of replicas, 0 or more")
        fallbackReplicas = fallback?.value
        let after = value(K.fallbackAfterFailures) { $0.int($1, $2, "a whole number of failed reads, 1 or more") }
        check((after?.value ?? 1) >= 1, after, "is out of range; expected a whole number of failed reads, 1 or more")
        fallbackAfterFailures = after?.value
        if let fallback, metric != .gpu, gpu == nil {
            issues.add(fallback.key, fallback.text, "applies only to a signal the collector reads; set \(K.metric.name): gpu or \(K.gpuTarget.name)")
        }
        if let after, fallback == nil {
            issues.add(after.key, after.text, "has no effect without \(K.fallbackReplicas.name)")
        }

        if let (name, text) = K.policy.lookup(in: annotations) {
            if let kind = ScalingPolicyKind(rawValue: text) {
                policy = kind
            } else {
                issues.add(name, text, "is not a scaling policy; expected thaw (load-aware, the default) or kpa (Knative's rules exactly)")
            }
        }
        let load = value(K.loadTime) { $0.duration($1, $2, "1s to 1h0m0s") }
        check((.seconds(1) ... .seconds(3600)).contains(load?.value ?? .seconds(1)), load, "is out of range; expected 1s to 1h0m0s")
        loadTime = load?.value

        if !issues.issues.isEmpty { throw PolicyError(issues: issues.issues) }
    }

    /// A parsed annotation with the spelling and text it came from, for messages.
    struct Found<T> {
        let key: String
        let text: String
        let value: T
    }

    private static func reportUnknownKeys(_ annotations: [String: String], into issues: inout IssueCollector) {
        let known = Set(AnnotationKeys.all.flatMap(\.spellings))
        for key in annotations.keys.sorted() where !known.contains(key) {
            guard key.hasPrefix(AnnotationKeys.knativePrefix) || key.hasPrefix(AnnotationKeys.thawPrefix) else { continue }
            let hint = closestKnownKey(to: key, among: known).map { "; did you mean \($0)?" } ?? ""
            issues.add(key, annotations[key], "is not an autoscaling annotation Thaw knows\(hint)")
        }
    }

    private static func closestKnownKey(to key: String, among known: Set<String>) -> String? {
        let best = known.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        guard let best, best.1 <= 4 else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
