import Dispatch
import Foundation
import KubernetesAccess
import KubernetesClient
import Synchronization
import Testing
import ThawTestSupport

/// A live copy of a collection kept against the fake API server, through watch timeouts and a 410.
@Suite(.serialized)
struct CollectionMirrorTests {
    final class Seen: Sendable {
        let names = Mutex<[Set<String>]>([])
        /// The newest spec.replicas of each object.
        let replicas = Mutex<[String: Int]>([:])
        let failures = Mutex<[Int?]>([])
        let cancelled = Atomic(false)
        var latest: Set<String> { names.withLock { $0.last ?? [] } }
    }

    static func deployment(_ name: String, replicas: Int = 1) -> [UInt8] {
        Array(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"\#(name)"},"spec":{"replicas":\#(replicas)}}"#.utf8)
    }

    /// Runs the mirror on its own thread until the test cancels it; returns when it has stopped.
    static func mirror(_ mirror: CollectionMirror<Workload>, into seen: Seen, cursor: ListWatchCursor = ListWatchCursor(firstBackoff: .milliseconds(100))) -> DispatchGroup {
        let done = DispatchGroup()
        done.enter()
        Thread.detachNewThread {
            var objects: [String: Workload] = [:]
            mirror.run(cursor: cursor, isCancelled: { seen.cancelled.load(ordering: .acquiring) },
                       failed: { error in seen.failures.withLock { $0.append(error.code) } }) { change in
                switch change {
                case .listed(let all): objects = all
                case .put(let key, let item): objects[key] = item
                case .deleted(let key): objects[key] = nil
                }
                seen.names.withLock { $0.append(Set(objects.keys)) }
                seen.replicas.withLock { $0 = objects.compactMapValues { $0.spec?.replicas } }
            }
            done.leave()
        }
        return done
    }

    @Test func followsCreatesUpdatesAndDeletesAcrossWatchTimeouts() async throws {
        let api = try await FakeKubernetesAPI(bookmarkSeconds: 0.3)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        let seen = Seen()
        // Each watch ends after 1 s: the mirror resumes from the newest version, without listing again.
        let done = Self.mirror(CollectionMirror(client: client, path: "/apis/apps/v1/namespaces/ml/deployments", watchSeconds: 1), into: seen)
        try await waitUntil("the first list", timeout: 10) { seen.latest == ["ml/a"] }
        try await Task.sleep(for: .milliseconds(2500))  // two watch timeouts pass
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("b"))
        try await waitUntil("b created", timeout: 10) { seen.latest == ["ml/a", "ml/b"] }
        _ = try client.mergePatch("/apis/apps/v1/namespaces/ml/deployments/a/scale", Array(#"{"spec":{"replicas":4}}"#.utf8))
        try await waitUntil("a scaled to 4", timeout: 10) { seen.replicas.withLock { $0["ml/a"] } == 4 }
        _ = try client.delete("/apis/apps/v1/namespaces/ml/deployments/b")
        try await waitUntil("b deleted", timeout: 10) { seen.latest == ["ml/a"] }
        seen.cancelled.store(true, ordering: .releasing)
        #expect(done.wait(timeout: .now() + 10) == .success, "stops within a watch timeout of being cancelled")
        #expect(seen.failures.withLock { $0 }.isEmpty, "timeouts are not failures: \(seen.failures.withLock { $0 })")
        let lists = try Self.requests(api, matching: "GET /apis/apps/v1/namespaces/ml/deployments?limit=")
        #expect(lists == 1, "listed once; every later watch resumed from a version")
        #expect(try Self.requests(api, matching: "watch=1") >= 3, "the 1 s watches ended and were resumed")
    }

    @Test func aWatchPastTheServersHistoryListsAgain() async throws {
        let api = try await FakeKubernetesAPI(history: 2)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        // Resume from version 1, long compacted away: the server answers 410 and the mirror lists.
        var cursor = ListWatchCursor(firstBackoff: .milliseconds(100))
        _ = cursor.listed(resourceVersion: "1")
        for name in ["b", "c", "d"] { _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment(name)) }
        let seen = Seen()
        let done = Self.mirror(CollectionMirror(client: client, path: "/apis/apps/v1/namespaces/ml/deployments", watchSeconds: 1),
                               into: seen, cursor: cursor)
        try await waitUntil("the list after 410", timeout: 10) { seen.latest == ["ml/a", "ml/b", "ml/c", "ml/d"] }
        seen.cancelled.store(true, ordering: .releasing)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.failures.withLock { $0 }.first == 410)
    }

    @Test func aWatchCutMidStreamResumesFromTheLastVersionWithoutListing() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        let seen = Seen()
        let done = Self.mirror(CollectionMirror(client: client, path: "/apis/apps/v1/namespaces/ml/deployments", watchSeconds: 30), into: seen)
        try await waitUntil("the first list", timeout: 10) { seen.latest == ["ml/a"] }
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("b"))
        try await waitUntil("b seen on the watch", timeout: 10) { seen.latest == ["ml/a", "ml/b"] }
        try api.cutWatches()
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("c"))
        try await waitUntil("c, created after the cut", timeout: 10) { seen.latest == ["ml/a", "ml/b", "ml/c"] }
        seen.cancelled.store(true, ordering: .releasing)
        try api.cutWatches()  // so the mirror does not wait out its 30 s watch
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.failures.withLock { $0 }.count >= 1, "the cut is a failure the mirror hears")
        #expect(try Self.requests(api, matching: "GET /apis/apps/v1/namespaces/ml/deployments?limit=") == 1, "resumed from a version, not listed again")
    }

    @Test func aLargeListComesInPagesAndIsHandedOnWhole() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        for name in ["a", "b", "c", "d", "e"] { _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment(name)) }
        let seen = Seen()
        let done = Self.mirror(CollectionMirror(client: client, path: "/apis/apps/v1/namespaces/ml/deployments", watchSeconds: 1, pageSize: 2),
                               into: seen)
        try await waitUntil("the paged list", timeout: 10) { seen.latest == ["ml/a", "ml/b", "ml/c", "ml/d", "ml/e"] }
        seen.cancelled.store(true, ordering: .releasing)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.names.withLock { $0.first } == ["ml/a", "ml/b", "ml/c", "ml/d", "ml/e"], "never a partial collection")
        #expect(try Self.requests(api, matching: "deployments?limit=2 HTTP") == 1)
        #expect(try Self.requests(api, matching: "deployments?limit=2&continue=") == 2, "three pages of two")
    }

    @Test func throttledListsWaitTheServersRetryAfter() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        try api.throttle(count: 2, retryAfter: 1)
        let seen = Seen()
        let started = ContinuousClock.now
        // A first backoff of 10 ms: only Retry-After can make the mirror wait about 2 s.
        let done = Self.mirror(CollectionMirror(client: client, path: "/apis/apps/v1/namespaces/ml/deployments", watchSeconds: 1), into: seen,
                               cursor: ListWatchCursor(firstBackoff: .milliseconds(10), jitter: { 0 }))
        try await waitUntil("listed after two 429s", timeout: 10) { seen.latest == ["ml/a"] }
        let took = ContinuousClock.now - started
        seen.cancelled.store(true, ordering: .releasing)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.failures.withLock { $0 } == [429, 429])
        #expect(took >= .milliseconds(1900), "waited Retry-After twice: \(took)")
    }

    /// How many requests the fake logged that contain `text` (it logs every request with --verbose).
    static func requests(_ api: FakeKubernetesAPI, matching text: String) throws -> Int {
        api.process.stderr.split(separator: "\n").filter { $0.contains(text) }.count
    }
}
