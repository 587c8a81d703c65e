import RemoteReadCodec
import SeriesSignals

/// One signal the collector reads for one scale target: which series, how they become one value
/// per replica, and how replicas add up to the target's total (the number the autoscaler divides
/// by its per-replica target).
///
/// A definition's selector decides which replicas belong to the target (for GPU utilization, a
/// match on `exported_pod` or `pod`, e.g. `exported_pod=~"digits-v1-.*"`), so no pod list has to
/// be kept in step with the cluster.
public struct SignalDefinition: Sendable {
    public var target: String
    /// The autoscaler's metric name: `gpu`.
    public var metric: String
    /// The selector as written, for messages and `/status`.
    public var selector: String
    public var matchers: [LabelMatch]
    public var reduction: SeriesReduction
    /// How the series of one replica (one per GPU) combine.
    public var perReplica: ReplicaCombination
    /// How far back each read looks; a gauge is averaged over it, a counter's rate taken over it.
    public var window: Duration
    /// Pods of the exporter itself, whose own `pod` label must not count as a workload.
    public var exporterPods: Set<String>

    public init(target: String, metric: String = "gpu", selector: String, reduction: SeriesReduction = .gaugeAverage,
                perReplica: ReplicaCombination = .average, window: Duration = .seconds(30), exporterPods: Set<String> = []) throws {
        self.target = target
        self.metric = metric
        self.selector = selector
        self.matchers = try SeriesSelector.parse(selector)
        do {
            _ = try CompiledMatchers(matchers)
        } catch {
            throw SeriesSelector.Invalid(description: "a regular expression in \(selector) does not compile: \(error)")
        }
        self.reduction = reduction
        self.perReplica = perReplica
        self.window = window
        self.exporterPods = exporterPods
    }

    var replicaValues: ReplicaValues {
        ReplicaValues(reduction: reduction, combination: perReplica, exporterPods: exporterPods)
    }
}
