import ActivatorCore
import NIOCore
import Synchronization
import ThawVocabulary
import TrafficStats

/// A request waiting for an endpoint: how to wake it, on its own event loop.
struct WaitingRequest: Sendable {
    let resume: @Sendable (Result<EndpointAddress, Rejection>) -> Void
}

/// One target's live state, shared by every event loop: its balancer, which endpoints passed their
/// probe, and its settings from the latest routing table.
///
/// A single lock guards it; the critical sections are a few dictionary operations, and callbacks to
/// waiting requests always run after the lock is released.
final class TargetRuntime: Sendable {
    private struct State: Sendable {
        var balancer: TargetBalancer<WaitingRequest>
        var readinessPath: String
        /// Endpoints the source lists; each gets traffic once its probe passes.
        var configured: [EndpointAddress]
        /// Endpoints whose last probe passed.
        var probedReady: Set<EndpointAddress> = []
        /// Endpoints with a probe in flight.
        var probing: Set<EndpointAddress> = []
        /// Set when the routing table no longer has this target.
        var removed = false
    }

    let name: String
    private let state: Mutex<State>
    private let timeoutNanoseconds: Synchronization.Atomic<Int64>
    private let http2 = Synchronization.Atomic(false)
    /// False once every configured endpoint is ready or being probed: the prober, which visits every
    /// target tens of times a second, then skips this one without taking its lock.
    private let mayNeedProbe = Synchronization.Atomic(true)
    let metrics: TargetMetrics
    /// Nil in a sidecar: its replica exists, and the activator in front pokes for it.
    private let pokes: (any PokeSink)?

    init(config: TargetConfig, metrics: TargetMetrics, pokes: (any PokeSink)?, slowStartWindow: Int) {
        name = config.name
        self.metrics = metrics
        self.pokes = pokes
        let now = MonotonicSeconds.now()
        var balancer = TargetBalancer<WaitingRequest>(name: config.name, capacity: config.containerConcurrency,
                                                      queueLimit: config.queueLimit, now: now,
                                                      initialWindow: slowStartWindow)
        _ = balancer.setFailure(config.failure, now: now)
        timeoutNanoseconds = Synchronization.Atomic(Self.nanoseconds(config.timeoutSeconds))
        http2.store(config.protocol == .h2c, ordering: .relaxed)
        state = Mutex(State(balancer: balancer, readinessPath: config.readinessPath, configured: config.endpoints))
    }

    private static func nanoseconds(_ seconds: Double) -> Int64 { Int64(seconds * 1e9) }

    /// The request timeout, read on every request without taking the lock.
    var timeout: TimeAmount { .nanoseconds(timeoutNanoseconds.load(ordering: .relaxed)) }

    /// Whether its replicas speak HTTP/2 (`protocol: h2c`), read on every request without the lock.
    var speaksHTTP2: Bool { http2.load(ordering: .relaxed) }

    /// Asks for an endpoint for a new request; pokes the autoscaler when the balancer says so.
    /// `proxied`: an activator forwarded it (a sidecar counts those apart).
    func admit(proxied: Bool, _ waiter: () -> WaitingRequest) -> TargetBalancer<WaitingRequest>.Admission {
        let (admission, queueLength) = state.withLock { state -> (TargetBalancer<WaitingRequest>.Admission, Int) in
            if state.removed {
                return (.rejected(.targetFailed(target: name, reason: "it was removed from the routing table")), 0)
            }
            let admission = state.balancer.admit(waiter(), proxied: proxied, now: MonotonicSeconds.now())
            return (admission, state.balancer.queueLength)
        }
        return forwardingPoke(admission) { queueLength }
    }

    func release(_ endpoint: EndpointAddress, proxied: Bool) {
        let dispatches = state.withLock { $0.balancer.release(endpoint, proxied: proxied, now: MonotonicSeconds.now()) }
        run(dispatches)
    }

    /// The request could not reach `endpoint`: stop routing there until a probe passes again.
    func reroute(_ waiter: WaitingRequest, proxied: Bool, from endpoint: EndpointAddress) -> TargetBalancer<WaitingRequest>.Admission {
        let admission = state.withLock { state in
            state.probedReady.remove(endpoint)
            mayNeedProbe.store(true, ordering: .releasing)
            return state.balancer.reroute(waiter, proxied: proxied, from: endpoint, now: MonotonicSeconds.now())
        }
        return forwardingPoke(admission) { state.withLock { $0.balancer.queueLength } }
    }

    /// Sends the poke the balancer asks for; with nowhere to send it, the admission says no poke
    /// happened, so nothing counts one.
    private func forwardingPoke(_ admission: TargetBalancer<WaitingRequest>.Admission,
                                queueLength: () -> Int) -> TargetBalancer<WaitingRequest>.Admission {
        guard case .queued(let ticket, true) = admission else { return admission }
        guard let pokes else { return .queued(ticket: ticket, poke: false) }
        pokes.poke(target: name, queueLength: queueLength())
        return admission
    }

    /// True when some endpoint passed its probe and has not failed since.
    var hasReadyEndpoint: Bool {
        state.withLock { !$0.balancer.readyEndpoints.isEmpty }
    }

    /// Nil when the request already got an endpoint (its wake-up is on the way).
    func cancel(ticket: UInt64) -> WaitingRequest? {
        state.withLock { $0.balancer.cancel(ticket: ticket, now: MonotonicSeconds.now()) }
    }

    /// Applies a target's entry from a new routing table.
    func apply(_ config: TargetConfig) {
        let (dispatches, failed) = state.withLock { state -> ([TargetBalancer<WaitingRequest>.Dispatch], [WaitingRequest]) in
            state.removed = false
            timeoutNanoseconds.store(Self.nanoseconds(config.timeoutSeconds), ordering: .relaxed)
            http2.store(config.protocol == .h2c, ordering: .relaxed)
            state.readinessPath = config.readinessPath
            state.configured = config.endpoints
            state.probedReady.formIntersection(config.endpoints)
            mayNeedProbe.store(true, ordering: .releasing)
            var dispatches = state.balancer.setReady(config.endpoints.filter(state.probedReady.contains))
            dispatches += state.balancer.setLimits(capacity: config.containerConcurrency, queueLimit: config.queueLimit)
            let failed = state.balancer.setFailure(config.failure, now: MonotonicSeconds.now())
            return (dispatches, failed)
        }
        run(dispatches)
        let reason = config.failure ?? ""
        for waiter in failed { waiter.resume(.failure(.targetFailed(target: name, reason: reason))) }
    }

    /// The routing table dropped this target: waiting requests fail, in-flight ones finish.
    func remove() {
        let failed = state.withLock { state in
            state.removed = true
            state.configured = []
            state.probedReady = []
            _ = state.balancer.setReady([])
            return state.balancer.removeAllWaiting(now: MonotonicSeconds.now())
        }
        for waiter in failed {
            waiter.resume(.failure(.targetFailed(target: name, reason: "it was removed from the routing table")))
        }
    }

    /// Fails every waiting request (shutdown after the drain deadline).
    func failWaiting(_ rejection: Rejection) {
        let failed = state.withLock { $0.balancer.removeAllWaiting(now: MonotonicSeconds.now()) }
        for waiter in failed { waiter.resume(.failure(rejection)) }
    }

    // MARK: Readiness probing

    /// Configured endpoints that have not passed a probe and have none in flight; marks them probing.
    func endpointsToProbe(limit: Int = .max) -> (endpoints: [EndpointAddress], path: String) {
        guard mayNeedProbe.load(ordering: .acquiring) else { return ([], "") }
        return state.withLock { state in
            var due: [EndpointAddress] = []
            var more = false
            for endpoint in state.configured where !state.probedReady.contains(endpoint) && !state.probing.contains(endpoint) {
                guard due.count < limit else {
                    more = true
                    break
                }
                due.append(endpoint)
            }
            if !more { mayNeedProbe.store(false, ordering: .releasing) }
            state.probing.formUnion(due)
            return (due, state.readinessPath)
        }
    }

    func probeFinished(_ endpoint: EndpointAddress, ready: Bool) {
        let dispatches = state.withLock { state -> [TargetBalancer<WaitingRequest>.Dispatch] in
            state.probing.remove(endpoint)
            if !ready { mayNeedProbe.store(true, ordering: .releasing) }
            guard ready, state.configured.contains(endpoint), !state.probedReady.contains(endpoint) else { return [] }
            state.probedReady.insert(endpoint)
            return state.balancer.setReady(state.configured.filter(state.probedReady.contains))
        }
        run(dispatches)
    }

    // MARK: Reporting

    /// The target as `/status` shows it and the metrics read it.
    struct Snapshot: Sendable, Encodable {
        var name: String
        var endpoints: [EndpointAddress]
        var readyEndpoints: [EndpointAddress]
        var queueLength: Int
        var activeRequests: Int
        var failure: String?
    }

    var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(name: name, endpoints: state.configured, readyEndpoints: state.balancer.readyEndpoints,
                     queueLength: state.balancer.queueLength, activeRequests: state.balancer.activeRequests,
                     failure: state.balancer.failure)
        }
    }

    /// This second's stats as `source` measured them, or nil when the target had no traffic at all
    /// and `whenIdle` is false. (A sidecar reports idle seconds too: they are what lets the
    /// autoscaler tell "no traffic" from "no data".)
    func report(wallClock: Double, source: String, whenIdle: Bool) -> StatReport? {
        let (period, queueLength) = state.withLock { state in
            (state.balancer.report(now: MonotonicSeconds.now()), state.balancer.queueLength)
        }
        guard whenIdle || !period.isIdle || queueLength > 0 else { return nil }
        return StatReport(target: name, source: source, timestamp: wallClock,
                          averageConcurrency: period.averageConcurrency, requestCount: Double(period.requestCount),
                          queueLength: queueLength, averageProxiedConcurrency: period.averageProxiedConcurrency,
                          proxiedRequestCount: Double(period.proxiedRequestCount))
    }

    private func run(_ dispatches: [TargetBalancer<WaitingRequest>.Dispatch]) {
        for dispatch in dispatches { dispatch.waiter.resume(.success(dispatch.endpoint)) }
    }
}

/// Where pokes go; the reporter sends them to the autoscaler at once.
protocol PokeSink: Sendable {
    /// Says that `queueLength` requests wait for `target`; the sink knows who is saying it.
    func poke(target: String, queueLength: Int)
}

/// The balancer's time: seconds on a monotonic clock (NIO's, the one its deadlines use), for the
/// concurrency meter's periods and queue waits.
enum MonotonicSeconds {
    static func now() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }
}
