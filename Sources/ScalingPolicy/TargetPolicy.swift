import Autoscaling

/// The resolved autoscaling policy of one scale target: annotations over cluster defaults, turned
/// into the decider's spec and the replica rules.
///
/// Resolution follows Knative: the per-replica total is the annotation target, else the container
/// concurrency, else the cluster default; the target value is total x utilization (at least 0.01);
/// the panic window is the stable window times the panic percentage, rounded to whole seconds.
public struct TargetPolicy: Sendable, Equatable {
    public var decider: DeciderSpec
    public var replicas: ReplicaPolicy
    /// The decider spec of GPU utilization as a second signal (`autoscaling.thaw.dev/gpu-target`), if set.
    public var secondary: DeciderSpec?
    /// What a failing collector-read signal falls back to (`autoscaling.thaw.dev/fallback-replicas`), if set.
    public var fallback: SignalFallback?
    /// GPU utilization targets are percentages already; this is the default when `metric: gpu` has no target.
    public static let gpuTargetDefault = 70.0

    /// The most concurrent requests a replica may be configured for (Knative's limit).
    public static let containerConcurrencyLimit = 1000

    public init(decider: DeciderSpec, replicas: ReplicaPolicy, secondary: DeciderSpec? = nil, fallback: SignalFallback? = nil) {
        self.decider = decider
        self.replicas = replicas
        self.secondary = secondary
        self.fallback = fallback
    }

    /// Resolves annotations over `config`.
    /// - Parameters:
    ///   - containerConcurrency: hard per-replica concurrency limit; 0 means unlimited.
    ///   - reachable: false for a release that currently gets no traffic from its route.
    /// - Throws: `PolicyError` with every problem in the annotations, config or concurrency.
    /// The shortest panic window, in seconds (see `init(annotations:config:containerConcurrency:reachable:)`).
    public static let minimumPanicSeconds: Int64 = 2

    public init(annotations: [String: String], config: AutoscalerConfig = AutoscalerConfig(),
                containerConcurrency: Int = 0, reachable: Bool = true) throws {
        var problems: [PolicyIssue] = []
        if !(0...Self.containerConcurrencyLimit).contains(containerConcurrency) {
            problems.append(PolicyIssue(key: "containerConcurrency", value: String(containerConcurrency),
                                        problem: "is out of range; expected 0 (unlimited) to \(Self.containerConcurrencyLimit)"))
        }
        var parsed = AutoscalingAnnotations()
        do {
            parsed = try AutoscalingAnnotations(annotations, config: config)
        } catch let error as PolicyError {
            problems += error.issues
        }
        if !problems.isEmpty { throw PolicyError(issues: problems) }
        self.init(annotations: parsed, config: config, containerConcurrency: containerConcurrency, reachable: reachable)
    }

    /// Resolves already validated annotations over `config`.
    public init(annotations a: AutoscalingAnnotations, config: AutoscalerConfig,
                containerConcurrency: Int, reachable: Bool) {
        let metric = a.metric ?? .concurrency
        var total: Double
        var utilization: Double
        if metric == .rps {
            total = config.requestsPerSecondTargetDefault
            utilization = config.targetUtilization
        } else if metric == .gpu {
            // The target is a utilization percentage already: no second utilization factor by default.
            total = Self.gpuTargetDefault
            utilization = 1
        } else {
            total = containerConcurrency == 0 ? config.containerConcurrencyTargetDefault : Double(containerConcurrency)
            utilization = config.containerConcurrencyTargetFraction
        }
        if let target = a.target {
            total = (metric == .concurrency && containerConcurrency != 0) ? min(target, Double(containerConcurrency)) : target
        }
        if let fraction = a.targetUtilization { utilization = fraction }

        let stableWindow = a.window ?? config.stableWindow
        let panicPercentage = a.panicWindowPercentage ?? config.panicWindowPercentage
        let panicSeconds = (stableWindow.secondsValue * panicPercentage / 100).rounded(.toNearestOrAwayFromZero)
        // Knative's floor is one bucket, since it scrapes at the tick and its newest bucket is the
        // tick's own. Thaw's reports are pushed once a second at their sender's phase, so a tick
        // can come up to a bucket after the newest report: a one-bucket panic window would read
        // that empty bucket and never panic. Two buckets always hold the newest report.
        let panicWindow = Duration.seconds(max(Self.minimumPanicSeconds, Int64(panicSeconds)))
        let targetBurstCapacity = a.targetBurstCapacity ?? config.targetBurstCapacity
        let initialScale = Self.initialScale(a.initialScale, config: config)

        decider = DeciderSpec(
            metric: metric,
            targetValue: max(0.01, total * utilization),
            totalValue: total,
            targetBurstCapacity: targetBurstCapacity,
            activatorCapacity: config.activatorCapacity,
            panicThreshold: (a.panicThresholdPercentage ?? config.panicThresholdPercentage) / 100,
            maxScaleUpRate: a.maxScaleUpRate ?? config.maxScaleUpRate,
            maxScaleDownRate: a.maxScaleDownRate ?? config.maxScaleDownRate,
            stableWindow: stableWindow,
            panicWindow: panicWindow,
            scaleDownDelay: a.scaleDownDelay ?? config.scaleDownDelay,
            initialScale: initialScale,
            activationScale: a.activationScale ?? 0,
            reachable: reachable,
            aggregation: a.aggregation ?? .linear,
            policy: a.policy ?? .thaw,
            loadTime: a.loadTime)
        if let gpu = a.gpuTarget {
            var spec = decider
            spec.metric = .gpu
            spec.targetValue = gpu
            spec.totalValue = 100
            secondary = spec
        } else {
            secondary = nil
        }
        fallback = a.fallbackReplicas.map { SignalFallback(replicas: $0, afterFailures: a.fallbackAfterFailures ?? SignalFallback.defaultAfterFailures) }
        replicas = ReplicaPolicy(
            minScale: a.minScale ?? config.minScale,
            maxScale: a.maxScale ?? config.maxScale,
            initialScale: initialScale,
            enableScaleToZero: config.enableScaleToZero,
            stableWindow: stableWindow,
            scaleToZeroGracePeriod: a.scaleToZeroGracePeriod ?? config.scaleToZeroGracePeriod,
            scaleToZeroPodRetention: a.scaleToZeroPodRetention ?? config.scaleToZeroPodRetentionPeriod,
            activationTimeout: (a.progressDeadline ?? config.progressDeadline) + .seconds(30),
            reachable: reachable,
            activatorAlwaysInPath: targetBurstCapacity == -1)
        replicas.idleWindowDecided = decider.policy == .thaw
    }

    /// Changes decider fields directly (a simulation's `spec:`), carrying the ones the replica rules
    /// share with the decider over, so the two halves of the policy never disagree.
    public mutating func updateDecider(_ change: (inout DeciderSpec) -> Void) {
        change(&decider)
        replicas.stableWindow = decider.stableWindow
        replicas.initialScale = decider.initialScale
        replicas.reachable = decider.reachable
        replicas.activatorAlwaysInPath = decider.targetBurstCapacity == -1
        replicas.idleWindowDecided = decider.policy == .thaw
    }

    /// The annotation wins unless it asks for 0 on a cluster that does not allow it.
    private static func initialScale(_ annotated: Int?, config: AutoscalerConfig) -> Int {
        guard let annotated, annotated != 0 || config.allowZeroInitialScale else { return config.initialScale }
        return annotated
    }
}
