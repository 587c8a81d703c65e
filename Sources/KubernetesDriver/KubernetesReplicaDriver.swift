import Dispatch
import Foundation
import KubernetesClient
import KubernetesTargets
import Logging
import ScaleTargets
import Synchronization

/// The replica driver on a cluster: replicas set through each workload's `scale` subresource, and
/// targets' endpoints, readiness and failures from their pods, as `ClusterWatch` sees them.
///
/// Writes go out on a thread of their own, newest count first: a decision never waits for the API
/// server, and a count superseded before it was sent is never sent.
public final class KubernetesReplicaDriver: ReplicaDriver {
    public let cluster: ClusterWatch
    let logger: Logger
    /// The kind of each target, by name, from the newest view: what path its scale lives at.
    private let kinds = Mutex<[String: String]>([:])
    private let pending = Mutex<[String: Int]>([:])
    private let wake = DispatchSemaphore(value: 0)
    /// The writer's view of the clock, for retry backoff.
    private let retryAfter = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Whether this replica may write now (it holds the Lease, renewed within the deadline); nil:
    /// it is the only autoscaler. Asked right before each write, so a leader that could not renew
    /// writes nothing more, whatever its loop still decides.
    private let mayWrite: (@Sendable () -> Bool)?

    public init(cluster: ClusterWatch, logger: Logger, mayWrite: (@Sendable () -> Bool)? = nil) {
        self.cluster = cluster
        self.logger = logger
        self.mayWrite = mayWrite
        // The writer holds the driver only while it writes: a driver nobody holds any more ends
        // its thread within a second.
        Thread.detachNewThread { [weak self, wake] in
            var failures: [String: Int] = [:]
            while true {
                _ = wake.wait(timeout: .now() + 1)
                guard let self else { return }
                self.writeRound(failures: &failures)
            }
        }
    }

    public func setReplicas(_ count: Int, of target: String) {
        pending.withLock { $0[target] = count }
        wake.signal()
    }

    public func watch(_ update: @escaping @Sendable ([TargetState]) -> Void) async throws {
        for await view in cluster.views() {
            let known = kinds.withLock { kinds in
                kinds = Dictionary(view.targets.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
                return kinds
            }
            // A target that left the view (forgotten, or its annotations broken) takes its unsent count
            // with it: written after it came back, that count would override the scale it is adopted at.
            pending.withLock { pending in pending = pending.filter { known[$0.key] != nil } }
            retryAfter.withLock { retry in retry = retry.filter { known[$0.key] != nil } }
            update(view.states)
            wake.signal()  // a target that was not known yet may have a write waiting
        }
    }

    /// The scale subresource of a target named `namespace/name`.
    static func scalePath(of target: String, kind: String) -> String? {
        let parts = target.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let collection = kind == "StatefulSet" ? "statefulsets" : "deployments"
        return "/apis/apps/v1/namespaces/\(parts[0])/\(collection)/\(parts[1])/scale"
    }

    /// Writes every pending count that is due, newest first per target.
    private func writeRound(failures: inout [String: Int]) {
        let now = ContinuousClock.now
        let due = pending.withLock { pending in
            pending.filter { target, _ in retryAfter.withLock { $0[target].map { $0 <= now } ?? true } }
        }
        for (target, count) in due.sorted(by: { $0.key < $1.key }) {
            guard let kind = kinds.withLock({ $0[target] }) else { continue }  // not in a view yet
            // Taken only if still the newest: a newer count stays pending and goes next.
            guard pending.withLock({ pending in
                guard pending[target] == count else { return false }
                pending[target] = nil
                return true
            }) else { continue }
            guard let path = Self.scalePath(of: target, kind: kind) else { continue }
            guard mayWrite?() ?? true else {
                // Kept for when this replica leads again (a renew that came late); a new leader's
                // loop writes every count it holds, so a stale one is replaced before it goes out.
                pending.withLock { pending in if pending[target] == nil { pending[target] = count } }
                logger.debug("not leading now; the scale waits", metadata: ["target": "\(target)", "replicas": "\(count)"])
                continue
            }
            do {
                _ = try cluster.client.mergePatch(path, Array(#"{"spec":{"replicas":\#(count)}}"#.utf8))
                failures[target] = nil
                retryAfter.withLock { $0[target] = nil }
                logger.debug("scale written", metadata: ["target": "\(target)", "replicas": "\(count)"])
            } catch let error as KubernetesError {
                switch error.code {
                case 404?:
                    logger.warning("the workload is gone; not scaling it", metadata: ["target": "\(target)", "error": "\(error)"])
                case 422?, 403?, 401?:
                    logger.error("the API server refused the scale", metadata: ["target": "\(target)", "replicas": "\(count)", "error": "\(error)"])
                default:
                    // Transient (throttled, unavailable, no answer): try again unless a newer count came.
                    let failed = (failures[target] ?? 0) + 1
                    failures[target] = failed
                    let wait = error.retryAfter ?? min(.seconds(30), .milliseconds(250) * (1 << min(failed - 1, 7)))
                    retryAfter.withLock { $0[target] = ContinuousClock.now + wait }
                    pending.withLock { pending in if pending[target] == nil { pending[target] = count } }
                    logger.warning("writing the scale failed; retrying", metadata: [
                        "target": "\(target)", "replicas": "\(count)", "in": "\(wait)", "error": "\(error)"])
                }
            } catch {
                logger.error("writing the scale failed", metadata: ["target": "\(target)", "error": "\(error)"])
            }
        }
    }
}
