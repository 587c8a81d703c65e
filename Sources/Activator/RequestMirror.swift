import ActivatorCore
import ControlHTTP
import NIOCore
import NIOHTTP1
import Prometheus
import Synchronization
import ThawVocabulary
import TrafficStats

/// Sends copies of a share of a service's requests to its mirror target (cube-studio's Istio
/// mirror), off the request path: the client's answer never waits for a copy, and a copy's answer
/// is read and dropped.
///
/// A copy is admitted by the mirror target's balancer like any request, so it counts as that
/// target's demand (its concurrency and rate reach the autoscaler, a copy at zero pokes it) and it
/// scales like any other. At zero a copy waits at most `waitLimit`, and at most `queueLimit`
/// copies per target wait or run at once: beyond that they are dropped and counted, so a mirror
/// that cannot keep up costs memory bounded by `queueLimit` bodies of at most `maxBody` bytes.
final class RequestMirror: Sendable {
    static let maxBody = 1 << 20
    /// Headers a copy does not take from its request: framing (the copy has its own), and the
    /// headers only Thaw may set.
    static let notCopied: Set<String> = ["content-length", "transfer-encoding", "expect", ProxyHeaders.probe.lowercased(),
                                         ProxyHeaders.proxiedBy.lowercased()]
    let queueLimit: Int
    let waitLimit: TimeAmount
    private let group: any EventLoopGroup
    private let open = Mutex<[String: Int]>([:])
    private let registry: PrometheusCollectorRegistry
    private let namespace: String

    init(metrics: ActivatorMetrics, group: any EventLoopGroup, queueLimit: Int = 100, waitLimit: TimeAmount = .seconds(10)) {
        self.group = group
        self.queueLimit = queueLimit
        self.waitLimit = waitLimit
        registry = metrics.registry
        namespace = metrics.namespace
    }

    private func count(_ what: String, target: String, reason: String? = nil) {
        let help = reason == nil ? "Request copies the mirror target answered (answers are discarded)."
            : "Request copies not sent to the mirror target, by reason: too many open, waited too long at zero, body over 1 MiB, or the mirror failed."
        let name = ActivatorMetrics.name(what, "total", help, namespace: namespace)
        registry.makeCounter(descriptor: name, labels: [("target", target)] + (reason.map { [("reason", $0)] } ?? [])).increment()
    }

    /// Counts a copy that is not made because its body is too large to keep.
    func dropTooLarge(target: String) { count("mirror_dropped", target: target, reason: "body_too_large") }

    /// Sends a copy of a request; returns at once.
    func send(_ head: HTTPRequestHead, body: [UInt8], to target: TargetRuntime) {
        let admitted = open.withLock { open in
            guard open[target.name, default: 0] < queueLimit else { return false }
            open[target.name, default: 0] += 1
            return true
        }
        guard admitted else {
            count("mirror_dropped", target: target.name, reason: "queue_full")
            return
        }
        // Marked as the activator's, as every request it forwards is: the mirror's sidecar then counts
        // the copy as proxied, and the autoscaler does not count it twice (once here, once there).
        var headers: [(String, String)] = [("thaw-mirrored", "true"), (ProxyHeaders.proxiedBy, ProxyHeaders.activator)]
        for (name, value) in head.headers where !HopByHop.nameStrings.contains(name.lowercased())
            && !Self.notCopied.contains(name.lowercased()) {
            headers.append((name, value))
        }
        let copy = (method: head.method, path: head.uri, headers: headers)
        Task {
            defer { _ = open.withLock { $0[target.name, default: 1] -= 1 } }
            switch await endpoint(of: target) {
            case .failure(let rejection):
                let reason = if case .timedOut = rejection { "timeout" } else { "failed" }
                count("mirror_dropped", target: target.name, reason: reason)
            case .success(let endpoint):
                defer { target.release(endpoint, proxied: false) }
                do {
                    _ = try await HTTPCall.perform(on: group.any(), to: endpoint, method: copy.method, path: copy.path, headers: copy.headers,
                                                   body: body, timeout: target.timeout)
                    count("mirrored", target: target.name)
                } catch {
                    count("mirror_dropped", target: target.name, reason: "failed")
                }
            }
        }
    }

    /// An endpoint from the target's balancer, waiting at most `waitLimit` for one.
    private func endpoint(of target: TargetRuntime) async -> Result<EndpointAddress, Rejection> {
        let once = ResumeOnce()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let admission = target.admit(proxied: false) { WaitingRequest { once.resume($0) } }
            switch admission {
            case .forward(let endpoint):
                once.resume(.success(endpoint))
            case .rejected(let rejection):
                once.resume(.failure(rejection))
            case .queued(let ticket, let poked):
                if poked { target.metrics.pokes.increment() }
                let seconds = Double(waitLimit.nanoseconds) / 1e9
                group.any().scheduleTask(in: waitLimit) {
                    // Still queued: taken out here. Otherwise its endpoint is already on the way.
                    if target.cancel(ticket: ticket) != nil {
                        once.resume(.failure(.timedOut(target: target.name, seconds: seconds, queued: true)))
                    }
                }
            }
        }
    }

    /// Resumes a continuation once, whoever gets there first.
    private final class ResumeOnce: Sendable {
        private let state = Mutex<CheckedContinuation<Result<EndpointAddress, Rejection>, Never>?>(nil)

        func set(_ continuation: CheckedContinuation<Result<EndpointAddress, Rejection>, Never>) {
            state.withLock { $0 = continuation }
        }

        func resume(_ result: Result<EndpointAddress, Rejection>) {
            let continuation = state.withLock { state in
                defer { state = nil }
                return state
            }
            continuation?.resume(returning: result)
        }
    }
}
