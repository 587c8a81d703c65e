import Foundation
import KubernetesAccess
import KubernetesClient
import Testing
import ThawTestSupport

/// `manifests/` as an operator applies it: it renders with the real kubectl's kustomize, every
/// object is accepted by the fake API server through `kubectl apply`, and each component is granted
/// exactly the verbs it is seen to use against the fake (the audit of its requests).
@Suite(.serialized)
struct ManifestsTests {
    static let manifests = ModulePaths.root.appendingPathComponent("manifests").path

    /// Off the concurrency pool: kubectl takes a second, and the pool has a thread per core.
    static func kubectl(_ api: FakeKubernetesAPI, _ arguments: [String], input: String? = nil) async throws -> CommandRun {
        let command = ["kubectl", "--kubeconfig", api.kubeconfig, "--cache-dir", api.directory.appendingPathComponent("cache").path,
                       "--request-timeout", "20s"] + arguments
        return try await offPool { try CommandRun.run(command, input: input) }
    }

    static func render() async throws -> String {
        let rendered = try await offPool { try CommandRun.run(["kubectl", "kustomize", manifests]) }
        guard rendered.status == 0 else { throw TestFailure("kubectl kustomize manifests/: \(rendered.stderr)") }
        return rendered.stdout
    }

    @Test func theManifestsRenderAndEveryObjectIsAcceptedByKubectlApply() async throws {
        let rendered = try await Self.render()
        let kinds = rendered.split(separator: "\n").filter { $0.hasPrefix("kind: ") }
        #expect(kinds.count == 22, "\(kinds)")
        let api = try await FakeKubernetesAPI()
        let applied = try await Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: rendered)
        #expect(applied.status == 0, "\(applied.stderr)\nfake: \(api.process.stderr.suffix(2000))")
        #expect(applied.stdout.split(separator: "\n").filter { $0.hasSuffix(" created") }.count == 22, "\(applied.stdout)")
        let again = try await Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: rendered)
        #expect(again.status == 0 && !again.stdout.contains(" created"), "applying twice changes nothing: \(again.stdout) \(again.stderr)")
        let deployments = try await Self.kubectl(api, ["get", "deployments", "-n", "thaw-system", "-o", "name"])
        #expect(deployments.stdout.split(separator: "\n").sorted() == ["deployment.apps/thaw-activator", "deployment.apps/thaw-autoscaler",
                                                                        "deployment.apps/thaw-collector"])
    }

    /// Every rule of the rendered RBAC, per service account, as `VERB GROUP RESOURCE` (the audit's form).
    static func granted() async throws -> [String: Set<String>] {
        let api = try await FakeKubernetesAPI()
        let applied = try await kubectl(api, ["apply", "--validate=false", "-f", "-"], input: try await render())
        guard applied.status == 0 else { throw TestFailure("apply: \(applied.stderr)") }
        func items(_ kinds: String) async throws -> [[String: Any]] {
            let listed = try await kubectl(api, ["get", kinds, "-A", "-o", "json"])
            let list = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
            return list?["items"] as? [[String: Any]] ?? []
        }
        var rulesByRole: [String: Set<String>] = [:]
        for role in try await items("clusterroles") + items("roles") {
            let name = ((role["metadata"] as? [String: Any])?["name"] as? String) ?? ""
            for rule in role["rules"] as? [[String: Any]] ?? [] {
                for group in rule["apiGroups"] as? [String] ?? [] {
                    for resource in rule["resources"] as? [String] ?? [] {
                        for verb in rule["verbs"] as? [String] ?? [] {
                            rulesByRole[name, default: []].insert("\(verb) \(group.isEmpty ? "core" : group) \(resource)")
                        }
                    }
                }
            }
        }
        var granted: [String: Set<String>] = [:]
        for binding in try await items("clusterrolebindings") + items("rolebindings") {
            let role = ((binding["roleRef"] as? [String: Any])?["name"] as? String) ?? ""
            for subject in binding["subjects"] as? [[String: Any]] ?? [] where subject["kind"] as? String == "ServiceAccount" {
                granted[subject["name"] as? String ?? "", default: []].formUnion(rulesByRole[role] ?? [])
            }
        }
        return granted
    }

    /// Workloads that make the autoscaler use every verb: a Deployment and a StatefulSet adopted below
    /// their min-scale (so both are scaled), and one whose policy is broken (so an Event says why it
    /// is left alone).
    static func workloads(_ client: KubernetesClient) throws {
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", ClusterEndToEndTests.deployment(
            "bounded", annotations: #", "autoscaling.knative.dev/min-scale": "1""#).replacingMinScale)
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", ClusterEndToEndTests.deployment(
            "broken", annotations: #", "autoscaling.knative.dev/max-scale": "lots""#))
        let statefulSet = String(decoding: ClusterEndToEndTests.deployment("ordered", annotations: #", "autoscaling.knative.dev/min-scale": "1""#)
            .replacingMinScale, as: UTF8.self).replacingOccurrences(of: #""kind": "Deployment""#, with: #""kind": "StatefulSet""#)
        _ = try client.post("/apis/apps/v1/namespaces/ml/statefulsets", Array(statefulSet.utf8))
    }

    /// The distinct requests a component made from `since` on (the test's own setup comes before).
    static func observed(_ api: FakeKubernetesAPI, since: Int) -> Set<String> {
        Set(api.auditLines.dropFirst(since))
    }

    @Test func eachComponentIsGrantedExactlyTheVerbsItUses() async throws {
        let granted = try await Self.granted()
        #expect(granted["thaw-collector"] == nil, "the collector never talks to the API")

        let api = try await FakeKubernetesAPI(audit: true)
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        try Self.workloads(client)
        var since = api.auditLines.count
        let autoscaler = try TestProcess("thaw-autoscaler", ["--kubeconfig", api.kubeconfig, "--port", "0", "--leader-elect", "--lease-namespace",
                                                              "thaw-system", "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5"])
        _ = try await autoscaler.waitFor("became the leader", timeout: 20)
        try await waitUntil("a scale, an Event and a renewed Lease", timeout: 20) {
            let seen = Self.observed(api, since: since)
            return ["patch apps deployments/scale", "patch apps statefulsets/scale", "create events.k8s.io events",
                    "update coordination.k8s.io leases"].allSatisfy(seen.contains)
        }
        autoscaler.signal(SIGTERM)
        _ = try await autoscaler.waitForExit(timeout: 20)
        let autoscalerUses = Self.observed(api, since: since)
        #expect(granted["thaw-autoscaler"] == autoscalerUses,
                "granted, not used: \(granted["thaw-autoscaler", default: []].subtracting(autoscalerUses).sorted()); used, not granted: \(autoscalerUses.subtracting(granted["thaw-autoscaler", default: []]).sorted())")

        since = api.auditLines.count
        let activator = try TestProcess("thaw-activator", ["--kubeconfig", api.kubeconfig, "--port", "0", "--admin-port", "0"])
        _ = try await activator.waitFor("thaw-activator listening")
        try await waitUntil("every collection watched", timeout: 20) { Self.observed(api, since: since).filter { $0.hasPrefix("watch ") }.count == 6 }
        activator.signal(SIGTERM)
        _ = try await activator.waitForExit(timeout: 40)
        let activatorUses = Self.observed(api, since: since)
        #expect(granted["thaw-activator"] == activatorUses,
                "granted, not used: \(granted["thaw-activator", default: []].subtracting(activatorUses).sorted()); used, not granted: \(activatorUses.subtracting(granted["thaw-activator", default: []]).sorted())")
    }
}

private extension Array where Element == UInt8 {
    /// The test deployment with `replicas: 0` and min-scale 0 overridden by the annotation given.
    var replacingMinScale: [UInt8] {
        Array(String(decoding: self, as: UTF8.self).replacingOccurrences(of: #""autoscaling.knative.dev/min-scale": "0","#, with: "").utf8)
    }
}
