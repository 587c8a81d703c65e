import Foundation
import KubernetesClient
import KubernetesTargets
import Logging
import NIOPosix
import ScaleTargets
import ServiceLifecycle
import Synchronization

/// One autoscaler replica's part in leader election through a `coordination.k8s.io/v1` Lease
/// (`LeaseElection` decides; this reads and writes the Lease every retry period). `leading`
/// follows the outcome, for the autoscaler loop and its readiness; `mayWrite` is the exact test a
/// write makes, by the clock, so a leader cut off from the API server stops writing at its renew
/// deadline even while a Lease request still hangs. On a graceful stop the leader hands the Lease
/// back (an empty holder), so the stand-by takes over at its next retry instead of a lease later.
///
/// The leader writes its own address on the Lease: every replica takes stats and pokes (a Service
/// spreads them, and a stand-by is as ready as the leader, so rollouts proceed), and a stand-by
/// forwards them to the address it last read there.
public final class LeaderElector: Service, Sendable {
    public let leading = Followed(false)
    /// Where the leader takes stats and pokes, as the Lease says; nil when none leads or this one does.
    public var leaderAddress: String? { leader.withLock { $0 } }
    private let leader = Mutex<String?>(nil)
    /// This replica's `host:port` for stats and pokes, written on the Lease while it leads.
    private let advertised: Mutex<String?>
    let client: KubernetesClient
    let path: String
    let namespace: String
    let name: String
    let identity: String
    let timing: LeaseElection.Timing
    let logger: Logger
    /// Monotonic nanoseconds until which this replica may write; 0 when it does not lead.
    private let leaseValidUntil = Atomic<Int64>(0)
    private let start = ContinuousClock.now

    public init(client: KubernetesClient, namespace: String, name: String = "thaw-autoscaler", identity: String, address: String? = nil,
                timing: LeaseElection.Timing = LeaseElection.Timing(), logger: Logger) {
        advertised = Mutex(address)
        // A Lease request never waits longer than a leader may go without renewing.
        self.client = KubernetesClient(access: client.access, timeout: .seconds(max(1, timing.renewDeadline / 2)))
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.logger = logger
        path = "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases/\(name)"
    }

    /// Seconds on this process's monotonic clock: what the election compares.
    private var now: Double { (ContinuousClock.now - start) / .seconds(1) }

    /// Sets the address written on the Lease (known once the intake is bound).
    public func advertise(_ address: String) {
        advertised.withLock { $0 = address }
    }

    public func mayWrite() -> Bool {
        Int64(now * 1e9) < leaseValidUntil.load(ordering: .acquiring)
    }

    public func run() async throws {
        logger.info("leader election", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        let final = try? await cancelWhenGracefulShutdown { [self] in
            var election = LeaseElection(identity: identity, timing: timing)
            while true {
                // The client blocks on libcurl: off the concurrency pool.
                let current = election
                election = try await NIOThreadPool.singleton.runIfActive { self.round(current) }
                do {
                    try await Task.sleep(for: .seconds(timing.retryPeriod))
                } catch {
                    return election
                }
            }
        }
        // Nothing more is written from here on, before the Lease is handed to a stand-by.
        leaseValidUntil.store(0, ordering: .releasing)
        leading.set(false)
        if let final, final.leads(at: now) {
            try? await NIOThreadPool.singleton.runIfActive { [self] in release() }
        }
    }

    /// One read, decision and write; returns the election as it stands after it.
    private func round(_ current: LeaseElection) -> LeaseElection {
        var election = current
        let observed: LeaseElection.Observed?
        do {
            observed = try Self.read(try client.get(path))
        } catch let error as KubernetesError where error.code == 404 {
            observed = nil
        } catch {
            logger.warning("cannot read the Lease", metadata: ["lease": "\(path)", "error": "\(error)"])
            apply(election.wrote(false, at: now), election)
            return election
        }
        let (write, change) = election.decide(observed, at: now)
        apply(change, election)
        leader.withLock { $0 = observed?.holder == identity || (observed?.holder ?? "").isEmpty ? nil : observed?.holderAddress }
        let stamp = MicroTime.string(from: Date())
        let sent = now
        let succeeded: Bool
        switch write {
        case .none:
            return election
        case .create:
            succeeded = attempt { _ = try client.post("/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases",
                                                      lease(resourceVersion: nil, transitions: 0, acquireTime: stamp, renewTime: stamp)) }
        case .update(let version, let transitions, let acquiring):
            succeeded = attempt { _ = try client.put(path, lease(resourceVersion: version, transitions: transitions,
                                                                 acquireTime: acquiring ? stamp : observed?.acquireTime, renewTime: stamp)) }
        }
        // Counted from when the write was sent, which the API server then stamped.
        apply(election.wrote(succeeded, at: sent), election)
        return election
    }

    private func attempt(_ write: () throws -> Void) -> Bool {
        do {
            try write()
            return true
        } catch let error as KubernetesError where error.code == 409 {
            return false  // another replica wrote first
        } catch {
            logger.warning("cannot write the Lease", metadata: ["lease": "\(path)", "error": "\(error)"])
            return false
        }
    }

    private func apply(_ change: LeaseElection.Change, _ election: LeaseElection) {
        if election.leads(at: now), let until = election.leadsUntil {
            // The last renew plus the deadline, never later: a failed read does not extend it.
            leaseValidUntil.store(Int64(until * 1e9), ordering: .releasing)
        } else {
            leaseValidUntil.store(0, ordering: .releasing)
        }
        switch change {
        case .none: break
        case .becameLeader:
            logger.notice("became the leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
            leading.set(true)
        case .lostLeadership:
            logger.warning("stopped leading", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
            leading.set(false)
        }
    }

    /// Hands the Lease back on a graceful stop, so the stand-by need not wait out its duration.
    private func release() {
        guard let current = try? Self.read(try client.get(path)), current.holder == identity else { return }
        _ = try? client.put(path, lease(resourceVersion: current.resourceVersion, transitions: current.transitions, acquireTime: current.acquireTime,
                                        renewTime: MicroTime.string(from: Date()), holder: ""))
        logger.notice("handed the Lease back", metadata: ["lease": "\(namespace)/\(name)"])
    }

    private func lease(resourceVersion: String?, transitions: Int, acquireTime: String?, renewTime: String, holder: String? = nil) -> [UInt8] {
        // Only while this replica holds it: a handed-back Lease names no address.
        let address = holder == nil ? advertised.withLock { $0 } : nil
        let object = LeaseObject(
            metadata: .init(name: name, namespace: namespace, resourceVersion: resourceVersion,
                            annotations: address.map { [LeaseElection.addressAnnotation: $0] }),
            spec: .init(holderIdentity: holder ?? identity, leaseDurationSeconds: Int(timing.leaseDuration.rounded(.up)),
                        acquireTime: acquireTime, renewTime: renewTime, leaseTransitions: transitions))
        return Array((try? JSONEncoder().encode(object)) ?? Data())
    }

    static func read(_ json: [UInt8]) throws -> LeaseElection.Observed {
        let lease = try JSONDecoder().decode(LeaseObject.self, from: Data(json))
        return LeaseElection.Observed(holder: lease.spec?.holderIdentity, renewTime: lease.spec?.renewTime,
                                      transitions: lease.spec?.leaseTransitions ?? 0, resourceVersion: lease.metadata.resourceVersion ?? "",
                                      holderAddress: lease.metadata.annotations?[LeaseElection.addressAnnotation],
                                      durationSeconds: lease.spec?.leaseDurationSeconds.map(Double.init), acquireTime: lease.spec?.acquireTime)
    }
}

/// A `coordination.k8s.io/v1` Lease: the fields Thaw reads and writes (a PUT replaces the whole object).
struct LeaseObject: Codable {
    struct Metadata: Codable {
        var name: String?
        var namespace: String?
        var resourceVersion: String?
        var annotations: [String: String]?
    }
    struct Spec: Codable {
        var holderIdentity: String?
        var leaseDurationSeconds: Int?
        var acquireTime: String?
        var renewTime: String?
        var leaseTransitions: Int?
    }
    var apiVersion: String? = "coordination.k8s.io/v1"
    var kind: String? = "Lease"
    var metadata: Metadata
    var spec: Spec?

    init(metadata: Metadata, spec: Spec?) {
        self.metadata = metadata
        self.spec = spec
    }

}
