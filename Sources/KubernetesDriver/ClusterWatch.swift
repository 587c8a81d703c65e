import Foundation
import KubernetesClient
import KubernetesTargets
import Logging
import ScalingPolicy
import ServiceLifecycle
import Synchronization

/// A cluster as Thaw sees it, kept live: Deployments, StatefulSets, Pods, Services, and the HPAs and
/// KEDA ScaledObjects that may claim a workload first, each mirrored by LIST then WATCH on a thread
/// of its own, folded into one `ClusterState`, and published as a `ClusterView` after each change.
///
/// Views are published only once every collection has been listed, so nobody acts on workloads
/// whose pods are not known yet. Bursts of changes coalesce: a view is built from the newest state,
/// not once per event.
public final class ClusterWatch: Service {
    /// One collection Thaw reads.
    struct Collection: Sendable {
        var group: String
        var resource: String
        /// HPAs and ScaledObjects: a cluster without KEDA, or without the right to list them, still works.
        var optional: Bool

        /// The API path of the collection, across namespaces or in one.
        func path(namespace: String?) -> String {
            let base = group == "" ? "/api/v1" : "/apis/\(group)"
            return namespace.map { "\(base)/namespaces/\($0)/\(resource)" } ?? "\(base)/\(resource)"
        }
    }

    static let deployments = Collection(group: "apps/v1", resource: "deployments", optional: false)
    static let statefulSets = Collection(group: "apps/v1", resource: "statefulsets", optional: false)
    static let pods = Collection(group: "", resource: "pods", optional: false)
    static let services = Collection(group: "", resource: "services", optional: false)
    static let autoscalers = Collection(group: "autoscaling/v2", resource: "horizontalpodautoscalers", optional: true)
    static let scaledObjects = Collection(group: "keda.sh/v1alpha1", resource: "scaledobjects", optional: true)

    public let client: KubernetesClient
    /// Nil watches every namespace the credentials may list.
    public let namespace: String?
    let watchSeconds: Int
    let logger: Logger
    private let state: Mutex<ClusterState>
    /// Collections not listed yet; views wait for all of them.
    private let unlisted = Mutex<Set<String>>([])
    private let changes: AsyncStream<Void>
    private let changed: AsyncStream<Void>.Continuation
    private let stopped = Atomic(false)
    private let subscribers = Mutex<(latest: ClusterView?, next: Int, streams: [Int: AsyncStream<ClusterView>.Continuation])>((nil, 0, [:]))

    public init(client: KubernetesClient, namespace: String?, config: AutoscalerConfig = AutoscalerConfig(),
                clusterDomain: String = "cluster.local", watchSeconds: Int = 60, logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.watchSeconds = watchSeconds
        self.logger = logger
        state = Mutex(ClusterState(config: config, clusterDomain: clusterDomain))
        (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// New cluster defaults: every workload's policy is read again, and a new view made.
    public func setConfig(_ config: AutoscalerConfig) {
        state.withLock { $0.setConfig(config) }
        changed.yield()
    }

    /// Every view from now on, the newest one first when there is one. A slow reader skips to the newest.
    public func views() -> AsyncStream<ClusterView> {
        let (stream, continuation) = AsyncStream.makeStream(of: ClusterView.self, bufferingPolicy: .bufferingNewest(1))
        let id = subscribers.withLock { subscribers in
            let id = subscribers.next
            subscribers.next += 1
            subscribers.streams[id] = continuation
            if let latest = subscribers.latest { continuation.yield(latest) }
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.streams.removeValue(forKey: id) } }
        return stream
    }

    /// Mirrors the collections and publishes views until cancelled or shut down gracefully.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.follow() }
    }

    private func follow() async {
        let collections = [Self.deployments, Self.statefulSets, Self.pods, Self.services, Self.autoscalers, Self.scaledObjects]
        unlisted.withLock { $0 = Set(collections.map(\.resource)) }
        for collection in collections {
            Thread.detachNewThread { [self] in mirror(collection) }
        }
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.wakeAtDeadlines() }
                await publishViews()
                group.cancelAll()
            }
        } onCancel: {
            stopped.store(true, ordering: .releasing)
            changed.finish()
        }
        // Finished outside the lock: a stream's termination handler takes it.
        for stream in subscribers.withLock({ Array($0.streams.values) }) { stream.finish() }
    }

    /// A pod's progress deadline falls due without any object changing: look once a second whether
    /// one has, and make a view then (it fails the target, and waiting requests hear so at once).
    private func wakeAtDeadlines() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = Date().timeIntervalSince1970
            if state.withLock({ $0.nextDeadline.map { $0 <= now } ?? false }) { changed.yield() }
        }
    }

    /// Makes a view after every change, once everything is listed, and hands it to every subscriber.
    private func publishViews() async {
        for await _ in changes {
            guard unlisted.withLock({ $0.isEmpty }) else { continue }
            let started = ContinuousClock.now
            let view = state.withLock { $0.view(at: Date().timeIntervalSince1970) }
            let took = ContinuousClock.now - started
            if took > .milliseconds(100) {
                logger.debug("cluster view built", metadata: ["targets": "\(view.targets.count)", "took": "\(took)"])
            }
            let streams = subscribers.withLock { subscribers in
                subscribers.latest = view
                return Array(subscribers.streams.values)
            }
            for stream in streams { stream.yield(view) }
        }
    }

    /// Runs one collection's mirror on the calling thread until the watch is stopped.
    private func mirror(_ collection: Collection) {
        switch collection.resource {
        case "deployments", "statefulsets":
            let kind: ClusterState.WorkloadKind = collection.resource == "deployments" ? .deployment : .statefulSet
            follow(collection, as: WorkloadObject.self) { state, change in
                switch change {
                case .listed(let all): state.replaceWorkloads(all, kind: kind)
                case .put(let key, let object): state.put(workload: object, key: key, kind: kind)
                case .deleted(let key): state.removeWorkload(key: key, kind: kind)
                }
            }
        case "pods":
            follow(collection, as: PodObject.self) { state, change in
                switch change {
                case .listed(let all): state.replacePods(all)
                case .put(let key, let object): state.put(pod: object, key: key)
                case .deleted(let key): state.removePod(key: key)
                }
            }
        case "services":
            follow(collection, as: ServiceObject.self) { state, change in
                switch change {
                case .listed(let all): state.replaceServices(all)
                case .put(let key, let object): state.put(service: object, key: key)
                case .deleted(let key): state.removeService(key: key)
                }
            }
        default:
            let resource = collection.resource
            follow(collection, as: ScalerObject.self) { state, change in
                switch change {
                case .listed(let all): state.replaceScalers(all, collection: resource)
                case .put(let key, let object): state.put(scaler: object, key: key, collection: resource)
                case .deleted(let key): state.removeScaler(key: key, collection: resource)
                }
            }
        }
    }

    private func follow<Item: Decodable & Sendable>(_ collection: Collection, as: Item.Type,
                                                    apply: (inout ClusterState, CollectionMirror<Item>.Change) -> Void) {
        let path = collection.path(namespace: namespace)
        let mirror = CollectionMirror<Item>(client: client, path: path, watchSeconds: watchSeconds)
        var failing = false
        var absentSaid = false
        mirror.run(isCancelled: { [self] in stopped.load(ordering: .acquiring) }, failed: { failure in
            if collection.optional, failure.code == 404 || failure.code == 403 {
                // Not installed (KEDA), or not ours to read: nothing there can claim a workload.
                if !absentSaid {
                    logger.notice("not watching \(collection.resource): \(failure.code == 404 ? "the cluster does not serve them" : "forbidden to list them"); workloads they would scale are not skipped",
                                  metadata: ["path": "\(path)"])
                    absentSaid = true
                }
                markListed(collection)
                return
            }
            if !failing {
                logger.warning("watching \(collection.resource) failed; retrying with backoff", metadata: ["error": "\(failure)"])
            }
            failing = true
        }) { change in
            if failing {
                logger.notice("watching \(collection.resource) again", metadata: ["path": "\(path)"])
                failing = false
            }
            state.withLock { apply(&$0, change) }
            if case .listed = change { markListed(collection) }
            changed.yield()
        }
    }

    private func markListed(_ collection: Collection) {
        let wasLast = unlisted.withLock { unlisted in unlisted.remove(collection.resource) != nil && unlisted.isEmpty }
        if wasLast {
            logger.info("every collection listed; following the cluster", metadata: ["namespace": "\(namespace ?? "(all)")"])
            changed.yield()
        }
    }
}
