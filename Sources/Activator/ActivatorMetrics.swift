import Synchronization
import Prometheus

/// The proxy's Prometheus metrics, served on the admin port.
///
/// Names follow Prometheus conventions under `thaw_activator_` (or `thaw_queue_` for a replica's
/// sidecar, which runs the same proxy); every per-target series carries a `target` label so a
/// dashboard can line a release's cold-start wait up with its replica count.
public final class ActivatorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let namespace: String
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
    static let bufferedBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300]

    let configReloads: (ok: Prometheus.Counter, failed: Prometheus.Counter)
    let statReports: (ok: Prometheus.Counter, failed: Prometheus.Counter)

    public init(namespace: String = "thaw_activator") {
        self.namespace = namespace
        let name = { Self.name($0, $1, $2, namespace: namespace) }
        configReloads = (
            registry.makeCounter(descriptor: name("config_reloads", "total", "Routing table reloads, by result."), labels: [("result", "ok")]),
            registry.makeCounter(descriptor: name("config_reloads", "total", "Routing table reloads, by result."), labels: [("result", "error")]))
        statReports = (
            registry.makeCounter(descriptor: name("stat_reports", "total", "Stat batches sent to the autoscaler, by result."), labels: [("result", "ok")]),
            registry.makeCounter(descriptor: name("stat_reports", "total", "Stat batches sent to the autoscaler, by result."), labels: [("result", "error")]))
    }

    /// Counts a reload of the routing source, good or rejected.
    public func recordConfigReload(ok: Bool) {
        (ok ? configReloads.ok : configReloads.failed).increment()
    }

    static func name(_ metric: String, _ unit: String?, _ help: String, namespace: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: namespace, metricName: metric, unitName: unit ?? "", helpText: help)
    }

    func target(_ name: String) -> TargetMetrics { TargetMetrics(target: name, registry: registry, namespace: namespace) }

    /// Sets the gauges that describe current state from the targets, just before a scrape.
    func refresh(_ targets: [TargetRuntime]) {
        for target in targets {
            let snapshot = target.snapshot
            target.metrics.queueLength.set(to: Double(snapshot.queueLength))
            target.metrics.activeRequests.set(to: Double(snapshot.activeRequests))
            target.metrics.readyEndpoints.set(to: Double(snapshot.readyEndpoints.count))
            target.metrics.configuredEndpoints.set(to: Double(snapshot.endpoints.count))
            target.metrics.failed.set(to: snapshot.failure == nil ? 0 : 1)
        }
    }
}

/// One target's series. Per-status series are made on first use and cached, so the request path
/// does one dictionary lookup, not a registry search.
final class TargetMetrics: Sendable {
    let target: String
    private let registry: PrometheusCollectorRegistry
    let queueLength: Prometheus.Gauge
    let activeRequests: Prometheus.Gauge
    let readyEndpoints: Prometheus.Gauge
    let configuredEndpoints: Prometheus.Gauge
    let failed: Prometheus.Gauge
    let buffered: ValueHistogram
    let retries: Prometheus.Counter
    let pokes: Prometheus.Counter
    private let byStatus = Mutex<[Int: (requests: Prometheus.Counter, latency: ValueHistogram)]>([:])

    private let namespace: String

    init(target: String, registry: PrometheusCollectorRegistry, namespace: String) {
        self.target = target
        self.registry = registry
        self.namespace = namespace
        let name = { ActivatorMetrics.name($0, $1, $2, namespace: namespace) }
        let labels = [("target", target)]
        queueLength = registry.makeGauge(descriptor: name("queue_length", nil, "Requests waiting for a replica."), labels: labels)
        activeRequests = registry.makeGauge(descriptor: name("in_flight_requests", nil, "Requests held by the activator, waiting or being proxied."), labels: labels)
        readyEndpoints = registry.makeGauge(descriptor: name("endpoints", nil, "Replica endpoints, by state."), labels: labels + [("state", "ready")])
        configuredEndpoints = registry.makeGauge(descriptor: name("endpoints", nil, "Replica endpoints, by state."), labels: labels + [("state", "known")])
        failed = registry.makeGauge(descriptor: name("target_failed", nil, "1 while the endpoint source reports that the target cannot come up."), labels: labels)
        buffered = registry.makeValueHistogram(descriptor: name("buffered", "seconds", "Time requests waited for a replica before being forwarded: the cold-start wait."), labels: labels, buckets: ActivatorMetrics.bufferedBuckets)
        retries = registry.makeCounter(descriptor: name("retries", "total", "Requests sent to another endpoint after their first could not be reached."), labels: labels)
        pokes = registry.makeCounter(descriptor: name("pokes", "total", "Pokes sent to the autoscaler for a target with no ready replica."), labels: labels)
    }

    typealias StatusSeries = (requests: Prometheus.Counter, latency: ValueHistogram)

    /// Counts a finished request and its latency under its status code.
    func finished(status: Int, seconds: Double) {
        record(series(for: status), seconds: seconds)
    }

    func record(_ series: StatusSeries, seconds: Double) {
        series.requests.increment()
        series.latency.record(seconds)
    }

    /// The series for one status code; callers on the hot path keep the last one they used.
    func series(for status: Int) -> StatusSeries {
        byStatus.withLock { cache in
            if let series = cache[status] { return series }
            let labels = [("target", target), ("code", String(status))]
            let name = { ActivatorMetrics.name($0, $1, $2, namespace: self.namespace) }
            let series = (registry.makeCounter(descriptor: name("requests", "total", "Requests answered, by target and status code."), labels: labels),
                          registry.makeValueHistogram(descriptor: name("request_duration", "seconds", "Time from a request's arrival to the end of its response, waiting included."), labels: labels, buckets: ActivatorMetrics.latencyBuckets))
            cache[status] = series
            return series
        }
    }
}
