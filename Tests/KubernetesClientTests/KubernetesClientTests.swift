import Dispatch
import Foundation
import KubernetesAccess
import KubernetesClient
import Testing
import ThawTestSupport

/// The client against the fake API server (which the real kubectl vouches for): reads, writes,
/// Status errors, credentials read again, trust, and a watch.
@Suite(.serialized)
struct KubernetesClientTests {
    static let deployment = """
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "digits-v1", "annotations": {"autoscaling.knative.dev/class": "kpa.thaw.dev"}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "digits"}},
                  "template": {"metadata": {"labels": {"app": "digits"}}, "spec": {"containers": [{"name": "model", "image": "digits:1"}]}}}}
        """

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func createReadScaleThroughTheKubeconfig() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        let created = try Self.json(try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8)))
        #expect((created["metadata"] as? [String: Any])?["namespace"] as? String == "ml")

        let scalePath = "/apis/apps/v1/namespaces/ml/deployments/digits-v1/scale"
        let scaled = try Self.json(try client.mergePatch(scalePath, Array(#"{"spec":{"replicas":3}}"#.utf8)))
        #expect((scaled["spec"] as? [String: Any])?["replicas"] as? Int == 3)
        let read = try Self.json(try client.get("/apis/apps/v1/namespaces/ml/deployments/digits-v1"))
        #expect((read["spec"] as? [String: Any])?["replicas"] as? Int == 3)
        let list = try Self.json(try client.get("/apis/apps/v1/deployments"))
        #expect((list["items"] as? [Any])?.count == 1)
    }

    @Test func errorsCarryTheServersReasonAndMessage() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        let missing = try #require(throws: KubernetesError.self) { try client.get("/apis/apps/v1/namespaces/ml/deployments/nope") }
        #expect(missing == .status(path: "/apis/apps/v1/namespaces/ml/deployments/nope", code: 404, reason: "NotFound",
                                   message: "deployments.apps \"nope\" not found"))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8))
        let twice = try #require(throws: KubernetesError.self) { try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8)) }
        #expect(twice.code == 409 && twice.description.contains("AlreadyExists"), "\(twice)")
    }

    @Test func aClientCertificateLogsInWithoutAToken() async throws {
        let api = try await FakeKubernetesAPI()
        let access = try ClusterAccess.kubeconfig(contentsOf: api.certificateKubeconfig)
        #expect(access.token == nil && access.clientCertificate != nil)
        let client = KubernetesClient(access: access)
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8))
        #expect((try Self.json(try client.get("/apis/apps/v1/namespaces/ml/deployments"))["items"] as? [Any])?.count == 1)
        // Without the certificate, and without a token, the same server refuses.
        var anonymous = access
        anonymous.clientCertificate = nil
        let refused = try #require(throws: KubernetesError.self) { try KubernetesClient(access: anonymous).get("/apis/apps/v1/namespaces/ml/deployments") }
        #expect(refused.code == 401)
    }

    @Test func tooManyRequestsCarriesTheServersRetryAfter() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        try api.throttle(count: 1, retryAfter: 7)
        let throttled = try #require(throws: KubernetesError.self) { try client.get("/apis/apps/v1/namespaces/ml/deployments") }
        #expect(throttled.code == 429)
        #expect(throttled.retryAfter == .seconds(7), "\(throttled)")
        #expect(throttled.description.contains("429 TooManyRequests (retry after 7 s)"), "\(throttled)")
        _ = try client.get("/apis/apps/v1/namespaces/ml/deployments")
    }

    @Test func aTokenFileIsReadAgainForEveryCall() async throws {
        let api = try await FakeKubernetesAPI()
        let tokenFile = api.directory.appendingPathComponent("token").path
        try "an-old-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var access = try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig)
        access.token = .file(tokenFile)
        let client = KubernetesClient(access: access)
        let refused = try #require(throws: KubernetesError.self) { try client.get("/api/v1/namespaces") }
        #expect(refused.code == 401, "\(refused)")
        // The kubelet rotates the projected token: the next call uses the new one, with no restart.
        try "\(api.token)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        #expect(try Self.json(try client.get("/api/v1/namespaces"))["kind"] as? String == "NamespaceList")
        try FileManager.default.removeItem(atPath: tokenFile)
        let gone = try #require(throws: KubernetesError.self) { try client.get("/api/v1/namespaces") }
        #expect(gone.description.contains(tokenFile), "\(gone)")
    }

    @Test func theServerCertificateMustBeTrusted() async throws {
        let api = try await FakeKubernetesAPI()
        var access = try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig)
        access.trust = .system
        let untrusted = try #require(throws: KubernetesError.self) { try KubernetesClient(access: access).get("/version") }
        guard case .transport(_, let message) = untrusted else { Issue.record("not a transport error: \(untrusted)"); return }
        #expect(message.lowercased().contains("certificate"), "\(message)")
        // The same CA given inline, as kind's kubeconfigs do, is trusted.
        access.trust = .authority(.data(Array(try Data(contentsOf: URL(fileURLWithPath: api.certificates.authority)))))
        #expect(try Self.json(try KubernetesClient(access: access).get("/version"))["gitVersion"] as? String == "v1.32.0-thaw-fake")
    }

    @Test func aWatchDeliversEventsUntilTheReceiverStops() async throws {
        // A history of 3 events: the two scale changes below push the oldest versions out of it.
        let api = try await FakeKubernetesAPI(history: 3)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8))
        let list = try Self.json(try client.get("/apis/apps/v1/namespaces/ml/deployments"))
        let version = try #require((list["metadata"] as? [String: Any])?["resourceVersion"] as? String)

        async let watched: [String] = offPool {
            var seen: [String] = []
            try client.watch("/apis/apps/v1/namespaces/ml/deployments?watch=1&resourceVersion=\(version)&timeoutSeconds=20",
                             as: Workload.self, limit: .seconds(50)) { event in
                seen.append("\(event.type) \(event.item?.spec?.replicas ?? -1)")
                return seen.count < 2
            }
            return seen
        }
        for replicas in [2, 3] {
            _ = try client.mergePatch("/apis/apps/v1/namespaces/ml/deployments/digits-v1/scale", Array(#"{"spec":{"replicas":\#(replicas)}}"#.utf8))
        }
        let started = ContinuousClock.now
        #expect(try await watched == ["MODIFIED 2", "MODIFIED 3"])
        #expect(ContinuousClock.now - started < .seconds(15), "stopped by the receiver, not by the server's timeout")

        // Past the fake's history the server answers, as a real one does, with an ERROR event holding
        // a 410 Status: the caller must list again.
        var events: [WatchEvent<Workload>] = []
        try client.watch("/apis/apps/v1/namespaces/ml/deployments?watch=1&resourceVersion=1", as: Workload.self, limit: .seconds(10)) { event in
            events.append(event)
            return true
        }
        #expect(events.map(\.type) == ["ERROR"])
        let status = try #require(events.first?.status)
        #expect(status.code == 410 && status.reason == "Expired" && status.message.contains("too old resource version: 1"), "\(status)")
    }

    /// Bookmarks between events must never pass over one: a watcher resumes from a bookmark, and an
    /// event behind it would be lost for good. (The fake once bookmarked the revision reached while it
    /// waited, skipping whatever arrived meanwhile: a mirror then missed a created Deployment.)
    @Test func frequentBookmarksPassOverNoEvent() async throws {
        let api = try await FakeKubernetesAPI(bookmarkSeconds: 0.01)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(Self.deployment.utf8))
        let list = try Self.json(try client.get("/apis/apps/v1/namespaces/ml/deployments"))
        let version = try #require((list["metadata"] as? [String: Any])?["resourceVersion"] as? String)
        let names = (0..<40).map { "d\($0)" }
        async let added: Set<String> = offPool {
            var seen: Set<String> = []
            try client.watch("/apis/apps/v1/namespaces/ml/deployments?watch=1&allowWatchBookmarks=true&resourceVersion=\(version)&timeoutSeconds=30",
                             as: Workload.self, limit: .seconds(60)) { event in
                if event.type == "ADDED", let name = event.item?.metadata.name { seen.insert(name) }
                return seen.count < names.count
            }
            return seen
        }
        for name in names {
            _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Array(#"{"metadata":{"name":"\#(name)"},"spec":{"replicas":1}}"#.utf8))
            try await Task.sleep(for: .milliseconds(15))
        }
        let seen = try await added
        #expect(seen == Set(names), "missing: \(Set(names).subtracting(seen).sorted())")
    }
}

/// The few fields of a Deployment these tests look at: a watch decodes only what its caller declares.
struct Workload: Decodable, Sendable {
    struct Metadata: Decodable, Sendable { var name: String }
    struct Spec: Decodable, Sendable { var replicas: Int? }
    var metadata: Metadata
    var spec: Spec?
}
