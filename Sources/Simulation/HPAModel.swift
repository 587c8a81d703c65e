import Autoscaling

/// A model of Kubernetes' HorizontalPodAutoscaler v2 with its default behaviour, scaling on
/// concurrency per pod as prometheus-adapter serves it (an average over the last minute):
/// - a sync every 15 s; desired = ceil(current × metric / target), left alone within a 10 % tolerance;
/// - the metric averaged over ready pods only (pods still starting are not counted as capacity);
/// - scale-up by at most max(100 %, 4 pods) per sync, with no stabilization;
/// - scale-down to the highest recommendation of the last 300 s, by at most 100 % per sync;
/// - never below `minReplicas` (at least 1: scale to zero needs an alpha feature gate).
public struct HPAModel: ReplicaController {
    public let name = "hpa"
    /// Concurrency per pod the HPA aims for.
    public let target: Double
    public let minReplicas: Int
    public let maxReplicas: Int
    public static let syncPeriod = 15
    public static let tolerance = 0.1
    public static let metricWindow = 60
    public static let scaleDownStabilization = 300

    private var concurrency: [Double] = []
    private var recommendations: [(t: Int, replicas: Int)] = []

    public init(target: Double, minReplicas: Int, maxReplicas: Int) {
        self.target = target
        self.minReplicas = max(1, minReplicas)
        self.maxReplicas = maxReplicas
    }

    public mutating func decide(second t: Int, stat: RequestStat, waiting: Int, ready: Int, replicas: Int) -> (replicas: Int?, reason: String?) {
        concurrency.append(stat.averageConcurrency)
        if concurrency.count > Self.metricWindow { concurrency.removeFirst(concurrency.count - Self.metricWindow) }
        guard t.isMultiple(of: Self.syncPeriod) else { return (nil, nil) }
        let current = max(replicas, 0)
        guard current > 0 else { return (max(minReplicas, 1), "hpa: below minReplicas") }
        let average = concurrency.reduce(0, +) / Double(max(1, concurrency.count))
        let perPod = average / Double(max(1, ready))
        let ratio = perPod / target
        var desired = current
        if ready > 0, abs(ratio - 1) > Self.tolerance {
            desired = Int((Double(ready) * ratio).rounded(.up))
        }
        desired = min(desired, max(2 * current, current + 4))
        recommendations.append((t, desired))
        recommendations.removeAll { $0.t <= t - Self.scaleDownStabilization }
        if desired < current {
            desired = min(current, recommendations.map(\.replicas).max() ?? desired)
            desired = max(desired, current / 2)
        }
        desired = ReplicaPolicy.clamp(desired, min: minReplicas, max: maxReplicas)
        guard desired != current else { return (nil, "hpa: \(current) (metric \(JSONLine.format((perPod * 100).rounded() / 100)) per pod)") }
        return (desired, "hpa: \(current) -> \(desired) (metric \(JSONLine.format((perPod * 100).rounded() / 100)) per pod, target \(JSONLine.format(target)))")
    }
}
