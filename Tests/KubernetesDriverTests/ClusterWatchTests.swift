import Foundation
import KubernetesAccess
import KubernetesClient
import KubernetesDriver
import KubernetesTargets
import Logging
import ScaleTargets
import Synchronization
import Testing
import ThawTestSupport

/// The driver in this process against the fake API server: what it follows through faults, and what
/// it writes.
@Suite(.serialized)
struct ClusterWatchTests {
    static let logger = Logger(label: "thaw.test.kubernetes", factory: { _ in SwiftLogNoOpLogHandler() })

    static func deployment(_ name: String, replicas: Int = 1) -> [UInt8] {
        Array("""
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "\(name)"},
             "spec": {"replicas": \(replicas), "selector": {"matchLabels": {"app": "\(name)"}},
                      "template": {"metadata": {"labels": {"app": "\(name)"}, "annotations": {"autoscaling.knative.dev/class": "kpa.thaw.dev"}},
                                   "spec": {"containers": [{"name": "model", "image": "m:1"}]}}}}
            """.utf8)
    }

    static func pod(_ name: String, app: String, ip: String, ready: Bool) -> [UInt8] {
        Array("""
            {"metadata": {"name": "\(name)", "labels": {"app": "\(app)"}},
             "status": {"phase": "Running", "podIP": "\(ip)", "conditions": [{"type": "Ready", "status": "\(ready ? "True" : "False")"}]}}
            """.utf8)
    }

    /// The newest view a watch published, kept by a reader task.
    final class Latest: Sendable {
        let view = Mutex<ClusterView?>(nil)
        var targets: [String] { view.withLock { $0?.targets.map(\.name) ?? [] } }
        func ready(_ target: String) -> [String] {
            view.withLock { $0?.states.first { $0.name == target }?.ready.map(\.description) ?? [] }
        }
    }

    final class Declared: Sendable {
        let value = Mutex<Int?>(nil)
        /// Every target's declared replicas.
        let all = Mutex<[String: Int]>([:])
    }

    static func follow(_ watch: ClusterWatch) -> (Latest, Task<Void, Never>) {
        let latest = Latest()
        let reader = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { try? await watch.run() }
                group.addTask { for await view in watch.views() { latest.view.withLock { $0 = view } } }
            }
        }
        return (latest, reader)
    }

    @Test func followsThroughCutWatchesA410AndARotatedToken() async throws {
        // A history of 5 events: the burst below pushes the version a cut watch resumes from out of it.
        let api = try await FakeKubernetesAPI(history: 5)
        let tokenFile = api.directory.appendingPathComponent("token").path
        try api.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var access = try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig)
        access.token = .file(tokenFile)  // as a pod's projected service-account token is
        let client = KubernetesClient(access: access)
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        let watch = ClusterWatch(client: client, namespace: "ml", watchSeconds: 30, logger: Self.logger)
        let (latest, reader) = Self.follow(watch)
        defer { reader.cancel() }
        try await waitUntil("the first view", timeout: 30) { latest.targets == ["ml/a"] }

        // Dropped mid-stream, then more changes than the server keeps: the watch cannot resume and lists again.
        try api.cutWatches()
        for index in 0..<6 { _ = try client.post("/api/v1/namespaces/ml/pods", Self.pod("a-\(index)", app: "a", ip: "10.0.0.\(index + 1)", ready: false)) }
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("b"))
        try await waitUntil("b and a's pods after the relist", timeout: 30) {
            latest.targets == ["ml/a", "ml/b"] && latest.view.withLock { $0?.states.first?.endpoints.count } == 6
        }

        // The token rotates and the old one stops working: the file is read again, and the watch goes on.
        try api.rotateToken(to: "rotated-\(UUID().uuidString)")
        try api.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try api.cutWatches()
        // The test's own client reads the same file.
        _ = try client.mergePatch("/api/v1/namespaces/ml/pods/a-0/status", Array(#"{"status": {"conditions": [{"type": "Ready", "status": "True"}]}}"#.utf8))
        try await waitUntil("a-0 ready, seen with the new token", timeout: 30) { latest.ready("ml/a") == ["10.0.0.1:8012"] }
        let lists = api.process.stderr.split(separator: "\n").filter { $0.contains("GET /apis/apps/v1/namespaces/ml/deployments?limit=") }.count
        #expect(lists == 2, "listed at the start and after the 410 only")
        #expect(api.process.stderr.contains("watch=1"))
    }

    /// A pod that never turns ready fails its target at the workload's progress deadline, though no
    /// object changes after it started: the watch looks again when the deadline falls due.
    @Test func aProgressDeadlineFallsDueWithNoObjectChanging() async throws {
        // No bookmarks either: nothing at all arrives after the pod.
        let api = try await FakeKubernetesAPI(bookmarkSeconds: 120)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        let deployment = String(decoding: Self.deployment("slow"), as: UTF8.self).replacingOccurrences(
            of: #""autoscaling.knative.dev/class": "kpa.thaw.dev""#,
            with: #""autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.knative.dev/progress-deadline": "4s""#)
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(deployment.utf8))
        let format = ISO8601DateFormatter()
        let pod = String(decoding: Self.pod("slow-a", app: "slow", ip: "10.0.0.9", ready: false), as: UTF8.self).replacingOccurrences(
            of: #""status": {"#, with: #""status": {"startTime": "\#(format.string(from: Date()))", "#)
        _ = try client.post("/api/v1/namespaces/ml/pods", Array(pod.utf8))
        let watch = ClusterWatch(client: client, namespace: "ml", watchSeconds: 30, logger: Self.logger)
        let (latest, reader) = Self.follow(watch)
        defer { reader.cancel() }
        func failure() -> String? { latest.view.withLock { $0?.states.first?.failure } }
        try await waitUntil("the target", timeout: 30) { latest.targets == ["ml/slow"] }
        try await waitUntil("the deadline to fail it", timeout: 10) { failure() != nil }
        #expect(failure() == "pod slow-a did not become ready within 4s (serving.knative.dev/progress-deadline)")
    }

    @Test func workloadsAnHPAScalesAreLeftAloneWithANotice() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a"))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("b"))
        let watch = ClusterWatch(client: client, namespace: "ml", watchSeconds: 30, logger: Self.logger)
        let (latest, reader) = Self.follow(watch)
        defer { reader.cancel() }
        try await waitUntil("both targets", timeout: 30) { latest.targets == ["ml/a", "ml/b"] }
        _ = try client.post("/apis/autoscaling/v2/namespaces/ml/horizontalpodautoscalers", Array("""
            {"metadata": {"name": "b-hpa"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "b"},
             "minReplicas": 1, "maxReplicas": 5}}
            """.utf8))
        try await waitUntil("b left to its HPA", timeout: 30) { latest.targets == ["ml/a"] }
        let notices = latest.view.withLock { $0?.notices ?? [] }
        #expect(notices.map(\.workload) == ["b"])
        #expect(notices.first?.message.hasPrefix("HorizontalPodAutoscaler ml/b-hpa scales this Deployment") == true)
    }

    @Test func scaleWritesGoThroughTheSubresourceAndWaitOutAThrottle() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("a", replicas: 0))
        let watch = ClusterWatch(client: client, namespace: "ml", watchSeconds: 30, logger: Self.logger)
        let driver = KubernetesReplicaDriver(cluster: watch, logger: Self.logger)
        let latest = Declared()
        let reader = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { try? await watch.run() }
                group.addTask {
                    try? await driver.watch { states in
                        latest.value.withLock { $0 = states.first?.declared }
                        latest.all.withLock { $0 = Dictionary(uniqueKeysWithValues: states.compactMap { state in state.declared.map { (state.name, $0) } }) }
                    }
                }
            }
        }
        defer { reader.cancel() }
        try await waitUntil("the target", timeout: 30) { latest.value.withLock { $0 } == 0 }
        driver.setReplicas(2, of: "ml/a")
        try await waitUntil("2 written", timeout: 30) { latest.value.withLock { $0 } == 2 }
        #expect(api.process.stderr.contains("PATCH /apis/apps/v1/namespaces/ml/deployments/a/scale"))

        // Throttled: the write waits the server's 1 s and goes through; the newest count wins.
        // Only the scale write is throttled: the watches, reconnecting now and then, must not take the 429.
        try api.throttle(count: 1, retryAfter: 1, path: "/apis/apps/v1/namespaces/ml/deployments/a/scale")
        let started = ContinuousClock.now
        driver.setReplicas(3, of: "ml/a")
        driver.setReplicas(4, of: "ml/a")
        try await waitUntil("4 written after the throttle", timeout: 30) { latest.value.withLock { $0 } == 4 }
        #expect(ContinuousClock.now - started >= .milliseconds(900))

        // A StatefulSet (GPU model servers often are one) scales through its own subresource.
        let statefulSet = String(decoding: Self.deployment("gpu", replicas: 1), as: UTF8.self).replacingOccurrences(of: "Deployment", with: "StatefulSet")
        _ = try client.post("/apis/apps/v1/namespaces/ml/statefulsets", Array(statefulSet.utf8))
        try await waitUntil("the StatefulSet's target", timeout: 30) { latest.all.withLock { $0["ml/gpu"] } == 1 }
        driver.setReplicas(3, of: "ml/gpu")
        try await waitUntil("3 written to the StatefulSet", timeout: 30) { latest.all.withLock { $0["ml/gpu"] } == 3 }
        #expect(try replicas(client, "/apis/apps/v1/namespaces/ml/statefulsets/gpu") == 3)
        #expect(api.process.stderr.contains("PATCH /apis/apps/v1/namespaces/ml/statefulsets/gpu/scale"))
    }

    @Test func aDriverNobodyHoldsEndsItsWriterThread() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        weak var released: KubernetesReplicaDriver?
        do {
            let driver = KubernetesReplicaDriver(cluster: ClusterWatch(client: client, namespace: "ml", logger: Self.logger), logger: Self.logger)
            released = driver
            driver.setReplicas(1, of: "ml/none")
        }
        // Its writer wakes at least once a second; holding the driver only while it writes, it lets go.
        try await waitUntil("the driver is freed", timeout: 5) { released == nil }
    }
}

/// A workload's `spec.replicas` as the API server holds it.
func replicas(_ client: KubernetesClient, _ path: String) throws -> Int? {
    let object = try JSONSerialization.jsonObject(with: Data(try client.get(path))) as? [String: Any]
    return (object?["spec"] as? [String: Any])?["replicas"] as? Int
}
