import MetricSeries
import Prometheus
import Synchronization
import ThawVocabulary

/// The proxy's Prometheus metrics, served on the admin port.
///
/// Names follow Prometheus conventions under `thaw_activator_` (or `thaw_queue_` for a replica's
/// sidecar, which runs the same proxy); every per-target series carries a `target` label so a
/// dashboard can line a release's cold-start wait up with its replica count.
public final class ActivatorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// The per-target series: a cluster's 10,000 targets are too many for the registry (see `SeriesFamilies`).
    let targets = SeriesFamilies()
    let namespace: String
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
    static let bufferedBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300]

    let configReloads: (ok: Prometheus.Counter, failed: Prometheus.Counter)
    let clientTimeouts: ClientTimeouts
    let connections: Connections

    /// Client connections shed at the connection cap.
    struct Connections: Sendable {
        let evicted, refused: Prometheus.Counter
        let open: Prometheus.Gauge
        let heapTrims: Prometheus.Counter
    }

    /// Client connections closed because the client was too slow, by what it was slow at.
    struct ClientTimeouts: Sendable {
        let head, body, keepAlive: Prometheus.Counter
    }
    let statReports: (ok: Prometheus.Counter, failed: Prometheus.Counter)

    public init(namespace: String = "thaw_activator") {
        self.namespace = namespace
        let name = { Self.name($0, $1, $2, namespace: namespace) }
        configReloads = (
            registry.makeCounter(descriptor: name("config_reloads", "total", "Routing table reloads, by result."), labels: [("result", "ok")]),
            registry.makeCounter(descriptor: name("config_reloads", "total", "Routing table reloads, by result."), labels: [("result", "error")]))
        let timeouts = name("client_timeouts", "total", "Client connections closed for slowness: a request head, a pause in a body, or an idle keep-alive.")
        clientTimeouts = ClientTimeouts(head: registry.makeCounter(descriptor: timeouts, labels: [("kind", "head")]),
                                        body: registry.makeCounter(descriptor: timeouts, labels: [("kind", "body")]),
                                        keepAlive: registry.makeCounter(descriptor: timeouts, labels: [("kind", "keepalive")]))
        let shed = name("connections_shed", "total", "Client connections closed at the connection cap: the longest idle one for a new one, or the new one when none idled.")
        connections = Connections(evicted: registry.makeCounter(descriptor: shed, labels: [("reason", "idle_evicted")]),
                                  refused: registry.makeCounter(descriptor: shed, labels: [("reason", "refused")]),
                                  open: registry.makeGauge(descriptor: name("client_connections", nil, "Open client connections on the proxy ports.")),
                                  heapTrims: registry.makeCounter(descriptor: name("heap_trims", "total", "Times freed heap memory was returned to the system after a wave of client connections ended.")))
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

    /// The services named in the last routing table.
    private let servicesSeen = Mutex<Set<String>>([])

    func target(_ name: String) -> TargetMetrics { TargetMetrics(target: name, families: targets, namespace: namespace) }

    /// Drops the series of targets that left the routing table.
    func forget(_ names: Set<String>) { targets.forget(label: "target", values: names) }

    /// The configured canary share of every service with a canary, so a dashboard sets the measured
    /// share beside it; services without one (any more) have no series.
    func services(_ services: [ServiceConfig]) {
        let named = Set(services.map(\.name))
        targets.forget(label: "service", values: Set(servicesSeen.withLock { seen in
            defer { seen = named }
            return seen.subtracting(named)
        }))
        for service in services {
            guard let canary = service.canaryTarget else {
                targets.forget(label: "service", value: service.name)
                continue
            }
            targets.gauge("\(namespace)_canary_traffic_percent", help: "The configured share of a service's requests that goes to its canary target.",
                          labels: [("service", service.name), ("default_target", service.defaultTarget), ("canary_target", canary)])
                .set(to: service.canaryTrafficPercent)
        }
    }

    /// Everything, in the text exposition format.
    public func exposition() -> String {
        var text = registry.emitToString()
        targets.emit(into: &text)
        return text
    }

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
    private let families: SeriesFamilies
    let queueLength: SeriesGauge
    let activeRequests: SeriesGauge
    let readyEndpoints: SeriesGauge
    let configuredEndpoints: SeriesGauge
    let failed: SeriesGauge
    let buffered: SeriesHistogram
    let retries: SeriesCounter
    let pokes: SeriesCounter
    private let byStatus = Mutex<[Int: StatusSeries]>([:])
    private let byReason = Mutex<[String: SeriesCounter]>([:])

    private let namespace: String

    init(target: String, families: SeriesFamilies, namespace: String) {
        self.target = target
        self.families = families
        self.namespace = namespace
        let labels = [("target", target)]
        queueLength = families.gauge("\(namespace)_queue_length", help: "Requests waiting for a replica.", labels: labels)
        activeRequests = families.gauge("\(namespace)_in_flight_requests", help: "Requests held by the activator, waiting or being proxied.", labels: labels)
        readyEndpoints = families.gauge("\(namespace)_endpoints", help: "Replica endpoints, by state.", labels: labels + [("state", "ready")])
        configuredEndpoints = families.gauge("\(namespace)_endpoints", help: "Replica endpoints, by state.", labels: labels + [("state", "known")])
        failed = families.gauge("\(namespace)_target_failed", help: "1 while the endpoint source reports that the target cannot come up.", labels: labels)
        buffered = families.histogram("\(namespace)_buffered_seconds", help: "Time requests waited for a replica before being forwarded: the cold-start wait.",
                                      labels: labels, buckets: ActivatorMetrics.bufferedBuckets)
        retries = families.counter("\(namespace)_retries_total", help: "Requests sent to another endpoint after their first could not be reached.", labels: labels)
        pokes = families.counter("\(namespace)_pokes_total", help: "Pokes sent to the autoscaler for a target with no ready replica.", labels: labels)
    }

    /// Counts a request the activator answered itself instead of a replica, by why.
    func answeredInstead(reason: String) {
        let counter = byReason.withLock { cache in
            if let counter = cache[reason] { return counter }
            let counter = families.counter("\(namespace)_own_answers_total",
                                           help: "Requests answered by the proxy itself instead of a replica, by reason: queue_full, target_failed, timeout, shutting_down, replica_failed, bad_request.",
                                           labels: [("target", target), ("reason", reason)])
            cache[reason] = counter
            return counter
        }
        counter.increment()
    }

    typealias StatusSeries = (requests: SeriesCounter, latency: SeriesHistogram)

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
            let series = (families.counter("\(namespace)_requests_total", help: "Requests answered, by target and status code.", labels: labels),
                          families.histogram("\(namespace)_request_duration_seconds",
                                             help: "Time from a request's arrival to the end of its response, waiting included.",
                                             labels: labels, buckets: ActivatorMetrics.latencyBuckets))
            cache[status] = series
            return series
        }
    }
}
