import Foundation
import Testing
import ThawTestSupport

/// The fake API server speaks Kubernetes: the real kubectl lists, creates, applies, scales and
/// watches through it, and gets Kubernetes' own errors back. Thaw's client is tested against this
/// fake, so this is what makes those tests worth something.
@Suite(.serialized)
struct KubectlAgainstTheFakeTests {
    /// kubectl with the fake's kubeconfig and its own discovery cache, so runs never share state.
    static func kubectl(_ api: FakeKubernetesAPI, _ arguments: [String], input: String? = nil, token: String? = nil) throws -> CommandRun {
        var global = ["kubectl", "--kubeconfig", api.kubeconfig, "--cache-dir", api.directory.appendingPathComponent("cache").path,
                      "--request-timeout", "20s"]
        if let token { global += ["--token", token] }
        return try CommandRun.run(global + arguments, input: input)
    }

    static func deployment(replicas: Int, image: String = "digits:1") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: digits-v1
          labels: {app: digits}
          annotations:
            autoscaling.knative.dev/class: kpa.thaw.dev
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: digits}}
          template:
            metadata:
              labels: {app: digits}
              annotations: {autoscaling.knative.dev/min-scale: "0"}
            spec:
              containers: [{name: model, image: "\(image)"}]
        """
    }

    @Test func applyGetScaleAndApplyAgain() async throws {
        let api = try await FakeKubernetesAPI()
        let created = try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 1))
        #expect(created.status == 0, "apply (create): \(created.stderr)\nfake: \(api.process.stderr)")
        #expect(created.stdout.contains("deployment.apps/digits-v1 created"), "\(created.stdout)")

        let listed = try Self.kubectl(api, ["get", "deployments", "-o", "json"])
        #expect(listed.status == 0, "get: \(listed.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])
        let items = try #require(list["items"] as? [[String: Any]])
        #expect(items.count == 1)
        let metadata = try #require(items.first?["metadata"] as? [String: Any])
        #expect(metadata["name"] as? String == "digits-v1")
        #expect(metadata["namespace"] as? String == "ml", "the context's namespace")
        #expect((metadata["annotations"] as? [String: String])?["autoscaling.knative.dev/class"] == "kpa.thaw.dev")

        let scaled = try Self.kubectl(api, ["scale", "deployment/digits-v1", "--replicas=3"])
        #expect(scaled.status == 0, "scale: \(scaled.stderr)")
        #expect(scaled.stdout.contains("deployment.apps/digits-v1 scaled"), "\(scaled.stdout)")
        let replicas = try Self.kubectl(api, ["get", "deployment", "digits-v1", "-o", "jsonpath={.spec.replicas}"])
        #expect(replicas.stdout == "3", "\(replicas.stdout) \(replicas.stderr)")

        // A changed image applies as a patch to the existing object; the scale set above is kept.
        let updated = try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 3, image: "digits:2"))
        #expect(updated.status == 0, "apply (update): \(updated.stderr)\nfake: \(api.process.stderr)")
        #expect(updated.stdout.contains("deployment.apps/digits-v1 configured"), "\(updated.stdout)")
        let image = try Self.kubectl(api, ["get", "deployment", "digits-v1", "-o", "jsonpath={.spec.template.spec.containers[0].image}"])
        #expect(image.stdout == "digits:2", "\(image.stdout) \(image.stderr)")
    }

    @Test func aWatchSeesTheScaleChange() async throws {
        let api = try await FakeKubernetesAPI()
        #expect(try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 1)).status == 0)
        let watch = try TestProcess(url: URL(fileURLWithPath: "/usr/bin/env"), arguments: [
            "kubectl", "--kubeconfig", api.kubeconfig, "--cache-dir", api.directory.appendingPathComponent("cache-watch").path,
            "get", "deployment", "digits-v1", "--watch", "--output-watch-events", "-o", "jsonpath={.type} {.object.spec.replicas}{\"\\n\"}",
        ], name: "kubectl get --watch")
        defer { watch.signal(SIGTERM) }
        try await watch.waitFor("ADDED 1", timeout: 30)
        #expect(try Self.kubectl(api, ["scale", "deployment/digits-v1", "--replicas=4"]).status == 0)
        try await watch.waitFor("MODIFIED 4", timeout: 30)
    }

    @Test func errorsComeBackAsKubernetesStatus() async throws {
        let api = try await FakeKubernetesAPI()
        // With nothing in namespace ml yet, kubectl (like a real cluster) says the namespace is missing.
        let noNamespace = try Self.kubectl(api, ["get", "deployment", "nope"])
        #expect(noNamespace.stderr.contains("namespaces \"ml\" not found"), "\(noNamespace.stderr)")
        #expect(try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 1)).status == 0)
        let missing = try Self.kubectl(api, ["get", "deployment", "nope"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("deployments.apps \"nope\" not found"), "\(missing.stderr)")

        let unauthorized = try Self.kubectl(api, ["get", "deployments"], token: "not-the-token")
        #expect(unauthorized.status != 0)
        #expect(unauthorized.stderr.contains("Unauthorized") || unauthorized.stderr.contains("provide credentials"), "\(unauthorized.stderr)")

        let defaults = try Self.kubectl(api, ["get", "namespaces", "-o", "name"])
        #expect(defaults.stdout.contains("namespace/default") && defaults.stdout.contains("namespace/ml"), "\(defaults.stdout)")
    }

    /// curl against the fake: what kubectl does not exercise but Thaw's client relies on.
    static func curl(_ api: FakeKubernetesAPI, _ arguments: [String]) throws -> (status: Int, body: String) {
        let run = try CommandRun.run(["curl", "-sS", "--max-time", "10", "--cacert", api.certificates.authority,
                                      "-H", "Authorization: Bearer \(api.token)", "-w", "\n%{http_code}"] + arguments)
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func staleWritesConflictAndOldWatchesAreGone() async throws {
        let api = try await FakeKubernetesAPI(history: 3)
        #expect(try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 1)).status == 0)
        let scaleURL = "\(api.server)/apis/apps/v1/namespaces/ml/deployments/digits-v1/scale"
        let read = try Self.curl(api, [scaleURL])
        #expect(read.status == 200 && read.body.contains("\"kind\": \"Scale\""), "\(read)")
        let scale = try #require(try JSONSerialization.jsonObject(with: Data(read.body.utf8)) as? [String: Any])
        let version = try #require((scale["metadata"] as? [String: Any])?["resourceVersion"] as? String)

        // A merge patch of spec.replicas needs no resourceVersion; a PUT carrying the old one is a 409.
        let patched = try Self.curl(api, ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", "{\"spec\":{\"replicas\":2}}", scaleURL])
        #expect(patched.status == 200 && patched.body.contains("\"replicas\": 2"), "\(patched)")
        let stale = try Self.curl(api, ["-X", "PUT", "-H", "Content-Type: application/json", "-d",
                                        "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"digits-v1\",\"resourceVersion\":\"\(version)\"},\"spec\":{\"replicas\":5}}",
                                        scaleURL])
        #expect(stale.status == 409 && stale.body.contains("\"reason\": \"Conflict\""), "\(stale)")
        let invalid = try Self.curl(api, ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", "{\"spec\":{\"replicas\":-1}}", scaleURL])
        #expect(invalid.status == 422 && invalid.body.contains("\"reason\": \"Invalid\""), "\(invalid)")

        // Three more changes push the first versions out of the fake's 3-event history: a watch from
        // there gets 200 and one ERROR event with a 410 Expired Status, as a real API server sends
        // when etcd has compacted that version away; the watcher must list again.
        for replicas in 3...5 {
            #expect(try Self.curl(api, ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", "{\"spec\":{\"replicas\":\(replicas)}}", scaleURL]).status == 200)
        }
        let gone = try Self.curl(api, ["\(api.server)/apis/apps/v1/namespaces/ml/deployments?watch=1&resourceVersion=\(version)"])
        #expect(gone.status == 200 && gone.body.contains("\"type\": \"ERROR\"") && gone.body.contains("\"code\": 410")
                && gone.body.contains("\"reason\": \"Expired\""), "\(gone)")
    }

    @Test func aQuietWatchGetsBookmarksAndEndsAtItsTimeout() async throws {
        let api = try await FakeKubernetesAPI(bookmarkSeconds: 0.5)
        #expect(try Self.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: Self.deployment(replicas: 1)).status == 0)
        let listed = try Self.curl(api, ["\(api.server)/apis/apps/v1/namespaces/ml/deployments"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [String: Any])
        let version = try #require((list["metadata"] as? [String: Any])?["resourceVersion"] as? String)
        let started = ContinuousClock.now
        let watched = try Self.curl(api, ["\(api.server)/apis/apps/v1/namespaces/ml/deployments?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=\(version)"])
        #expect(watched.status == 200)
        let events = watched.body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!events.isEmpty && events.allSatisfy { $0["type"] as? String == "BOOKMARK" }, "\(watched.body)")
        #expect(ContinuousClock.now - started >= .seconds(2) && ContinuousClock.now - started < .seconds(8))
    }
}
