import MetricSeries
import Prometheus

/// The autoscaler's Prometheus series, one set per target, under `thaw_autoscaler_`.
public final class AutoscalerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The per-target series: 10,000 targets are too many for the registry (see `SeriesFamilies`).
    public let targets = SeriesFamilies()
    let statsReceived: Counter
    let statsRejected: Counter
    let pokes: Counter
    let pokeToDecision: ValueHistogram
    /// 1 while this replica decides and writes (it always does, alone), 0 while it stands by.
    let leader: Gauge

    public init() {
        statsReceived = registry.makeCounter(descriptor: Self.name("stats_received", "total", "Stat reports accepted."))
        statsRejected = registry.makeCounter(descriptor: Self.name("stats_rejected", "total", "Stat reports for unknown targets or malformed."))
        pokes = registry.makeCounter(descriptor: Self.name("pokes", "total", "Pokes received from activators."))
        pokeToDecision = registry.makeValueHistogram(
            descriptor: Self.name("poke_to_decision", "seconds", "Time from a poke's arrival to the decision it caused being handed to the driver."),
            buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1])
        leader = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "thaw_autoscaler", metricName: "leader", helpText: "1 while this replica leads (decides and writes replica counts), 0 while it stands by."))
    }

    /// Everything, in the text exposition format.
    public func exposition() -> String {
        var text = registry.emitToString()
        targets.emit(into: &text)
        return text
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "thaw_autoscaler", metricName: metric, unitName: unit, helpText: help)
    }

    /// The gauges of one target.
    final class Target: Sendable {
        let desired, requested, actual, ready, stable, panic, targetPerReplica, panicMode, excessBurstCapacity, holding, fallback, waiting: SeriesGauge
        /// Thaw's policy only: what its newest decision was made of.
        let loadTime, keptWarm, prewarmed, forecast, unstarted: SeriesGauge
        let decisions, signalFailures: SeriesCounter

        init(_ name: String, families: SeriesFamilies) {
            let labels = [("target", name)]
            func gauge(_ metric: String, _ help: String) -> SeriesGauge {
                families.gauge("thaw_autoscaler_\(metric)", help: help, labels: labels)
            }
            desired = gauge("desired_replicas", "Replicas the decider wants, before min/max bounds.")
            requested = gauge("requested_replicas", "Replicas asked of the driver, after bounds and scale-to-zero gating.")
            actual = gauge("actual_replicas", "Replicas running, ready or not.")
            ready = gauge("ready_replicas", "Replicas that passed their readiness check.")
            stable = gauge("stable_value", "The scaling metric averaged over the stable window.")
            panic = gauge("panic_value", "The scaling metric averaged over the panic window.")
            targetPerReplica = gauge("target_per_replica", "The per-replica value the decider aims for.")
            panicMode = gauge("panic_mode", "1 while the target is in panic mode.")
            excessBurstCapacity = gauge("excess_burst_capacity", "Spare capacity beyond the target burst capacity; negative keeps the activator in the path.")
            holding = gauge("holding", "1 while replicas are ready but their stats stopped arriving: the scale is held.")
            fallback = gauge("fallback", "1 while a collector-read signal has failed past its threshold and the fallback replica count applies.")
            waiting = gauge("waiting_for_capacity", "1 while a replica waits for room on a node (Unschedulable): not a failure, requests keep waiting.")
            loadTime = gauge("load_time_seconds", "Thaw's policy: how long a new replica takes to become ready, measured (or configured until measured).")
            keptWarm = gauge("kept_warm_replicas", "Thaw's policy: idle replicas kept warm by their level's learned window.")
            prewarmed = gauge("prewarmed_replicas", "Thaw's policy: replicas started ahead of the demand their level's history expects.")
            forecast = gauge("forecast_replicas", "Thaw's policy: replicas the demand one load time ahead asks for.")
            unstarted = gauge("unstarted_replicas", "Thaw's policy: replicas the demand asks for but not started, as they would load after it ends.")
            decisions = families.counter("thaw_autoscaler_decisions_total", help: "Decisions taken.", labels: labels)
            signalFailures = families.counter("thaw_autoscaler_signal_failures_total",
                                              help: "Rounds in which the collector could not read this target's signal.", labels: labels)
        }
    }

    func target(_ name: String) -> Target { Target(name, families: targets) }

    /// Drops forgotten targets' series.
    func forget(_ names: Set<String>) { targets.forget(label: "target", values: names) }
}
