import Prometheus

/// The collector's own Prometheus series, under `thaw_collector_`: whether its source answers, how
/// long reads take, how much they bring, what fails and why, and what it tells the autoscaler.
public final class CollectorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let rounds: Counter
    let pushes: Counter
    let pushFailures: Counter

    public init() {
        rounds = registry.makeCounter(descriptor: Self.name("rounds", "total", "Polling rounds completed."))
        pushes = registry.makeCounter(descriptor: Self.name("pushes", "total", "Metric batches the autoscaler accepted."))
        pushFailures = registry.makeCounter(descriptor: Self.name("push_failures", "total", "Metric batches the autoscaler refused or did not receive."))
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "thaw_collector", metricName: metric, unitName: unit, helpText: help)
    }

    /// One read of a source (a remote read, or one exporter scrape).
    func read(source: String, seconds: Double, samples: Int, error: String?) {
        let labels = [("source", source)]
        registry.makeValueHistogram(descriptor: Self.name("read", "seconds", "Time one read of a source took, answer decoded."),
                                    labels: labels, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
            .record(seconds)
        registry.makeCounter(descriptor: Self.name("samples_read", "total", "Samples read from a source."), labels: labels)
            .increment(by: Int64(samples))
        registry.makeGauge(descriptor: Self.name("source_up", "", "1 when the newest read of a source succeeded."), labels: labels)
            .set(to: error == nil ? 1 : 0)
        if let error {
            registry.makeCounter(descriptor: Self.name("read_errors", "total", "Failed reads, by kind: status, transport, timeout, body, credentials."),
                                 labels: labels + [("kind", error)])
                .increment()
        }
    }

    /// One signal's outcome in a round.
    func signal(_ result: SignalRound.Result) {
        let labels = [("target", result.target), ("metric", result.metric)]
        if let value = result.value {
            registry.makeGauge(descriptor: Self.name("signal_value", "", "The newest value sent for a target's signal (sum over its replicas)."),
                               labels: labels)
                .set(to: value)
            registry.makeGauge(descriptor: Self.name("signal_replicas", "", "Replicas the newest value of a target's signal covers."), labels: labels)
                .set(to: Double(result.replicas))
        } else {
            registry.makeCounter(descriptor: Self.name("signal_failures", "total", "Rounds without a value for a target's signal."), labels: labels)
                .increment()
        }
    }
}
