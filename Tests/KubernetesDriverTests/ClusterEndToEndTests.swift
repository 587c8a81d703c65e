import Foundation
import KubernetesAccess
import KubernetesClient
import Testing
import ThawTestSupport

/// thaw-autoscaler and thaw-activator as processes on a cluster (the fake API server), with the test
/// as kubelet: real replica processes on addresses of their own, pods marked Ready, and real curl
/// and kubectl as the clients.
@Suite(.serialized)
struct ClusterEndToEndTests {
    static func deployment(_ name: String, annotations: String = "") -> [UInt8] {
        Array("""
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "\(name)", "labels": {"serving.thaw.dev/service": "\(name)"}},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "\(name)"}},
                      "template": {"metadata": {"labels": {"app": "\(name)"}, "annotations": {
                          "autoscaling.knative.dev/class": "kpa.thaw.dev", "autoscaling.knative.dev/min-scale": "0",
                          "autoscaling.knative.dev/window": "6s", "autoscaling.thaw.dev/scale-to-zero-grace-period": "2s",
                          "serving.thaw.dev/readiness-path": "/ready" \(annotations)}},
                                   "spec": {"containers": [{"name": "model", "image": "echo:1"}]}}}}
            """.utf8)
    }

    /// The two daemons on the fake cluster; the activator logs in with a client certificate.
    struct Daemons {
        let autoscaler: TestProcess
        let activator: TestProcess
        let autoscalerURL: String
        let proxyPort: Int
        let adminPort: Int

        init(api: FakeKubernetesAPI) async throws {
            autoscaler = try TestProcess("thaw-autoscaler", ["--kubeconfig", api.kubeconfig, "--namespace", "ml", "--port", "0"])
            let line = try await autoscaler.waitFor("thaw-autoscaler: http://")
            autoscalerURL = String(line[line.range(of: "http://")!.lowerBound...])
            activator = try TestProcess("thaw-activator", ["--kubeconfig", api.certificateKubeconfig, "--namespace", "ml", "--port", "0",
                                                           "--admin-port", "0", "--autoscaler-url", autoscalerURL])
            let listening = try await activator.waitFor("thaw-activator listening")
            func port(after label: String) throws -> Int {
                guard let range = listening.range(of: "\(label)=[IPv4]127.0.0.1/127.0.0.1:"),
                      let port = Int(listening[range.upperBound...].prefix { $0.isNumber }) else { throw TestFailure("no \(label) in: \(listening)") }
                return port
            }
            proxyPort = try port(after: "proxy")
            adminPort = try port(after: "admin")
        }

        /// A request through the activator, by a service's cluster host name, with real curl.
        func request(_ host: String, timeout: Int = 30) async throws -> (status: Int, headers: String, body: String) {
            let proxyPort = proxyPort
            let run = try await offPool { try CommandRun.run(["curl", "-sS", "-m", String(timeout), "-D", "-", "-H", "Host: \(host)",
                                          "-w", "\n%{http_code}", "http://127.0.0.1:\(proxyPort)/predict"]) }
            let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, run.stdout, run.stdout + run.stderr)
        }

        func activatorKnows(_ target: String) throws -> Bool {
            try CommandRun.run(["curl", "-sS", "http://127.0.0.1:\(adminPort)/status"]).stdout.contains("\"\(target)\"")
        }

        func autoscalerStatus() throws -> String {
            try CommandRun.run(["curl", "-sS", "\(autoscalerURL)/status"]).stdout
        }
    }

    static func replicas(_ client: KubernetesClient, _ name: String) throws -> Int? {
        try KubernetesDriverTests.replicas(client, "/apis/apps/v1/namespaces/ml/deployments/\(name)")
    }

    @Test func aRequestScalesFromZeroThroughTheAPIAndBackDown() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("digits"))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("broken", annotations: #", "autoscaling.knative.dev/max-scale": "lots""#))
        let daemons = try await Daemons(api: api)
        let kubelet = try TestKubelet(api: api, autoscalerURL: daemons.autoscalerURL, behaviours: ["digits": .serve])
        let kubeletTask = Task.detached { await kubelet.run() }
        defer { kubelet.stop(); kubeletTask.cancel() }
        try await waitUntil("the activator routes the cluster's target", timeout: 20) { try daemons.activatorKnows("ml/digits") }

        // Scaled to zero: the request waits in the activator, the autoscaler patches the scale, the
        // kubelet starts a pod, and the request is answered by it.
        #expect(try Self.replicas(client, "digits") == 0)
        let answer = try await daemons.request("digits.ml.svc.cluster.local")
        #expect(answer.status == 200, "\(answer.body)\nautoscaler:\n\(daemons.autoscaler.stderr)\nactivator:\n\(daemons.activator.stderr)")
        let pod = try #require(kubelet.started.withLock { $0.first })
        #expect(answer.headers.lowercased().contains("x-backend: \(pod)"), "served by the pod the kubelet started: \(answer.headers)")
        #expect(try Self.replicas(client, "digits") == 1)
        #expect(try await daemons.request("digits.ml.svc").status == 200, "the short names route too")
        #expect(try await daemons.request("digits.ml").status == 200)

        // The invalid workload was never scaled, and its owner is told why with an Event.
        #expect(try Self.replicas(client, "broken") == 0)
        let events = try JSONSerialization.jsonObject(with: Data(try client.get("/apis/events.k8s.io/v1/namespaces/ml/events"))) as? [String: Any]
        let notes = (events?["items"] as? [[String: Any]] ?? []).filter { (($0["regarding"] as? [String: Any])?["name"] as? String) == "broken" }
        #expect(notes.count == 1, "one Event: \(String(describing: events))")
        #expect(notes.first?["reason"] as? String == "InvalidPolicy")
        #expect((notes.first?["note"] as? String)?.contains("max-scale") == true, "\(notes)")
        #expect(daemons.autoscaler.stderr.contains("not scaling Deployment ml/broken"), "one log line names it")

        // A manual scale is set back at the next decision, as HPA does. Real kubectl writes it.
        let scaled = try await offPool { try CommandRun.run(["kubectl", "--kubeconfig", api.kubeconfig, "scale", "deployment", "digits", "--replicas=3"]) }
        #expect(scaled.status == 0, "\(scaled.stderr)")
        try await waitUntil("the autoscaler notices and sets it back", timeout: 15) {
            try daemons.autoscaler.stderr.contains("replicas changed outside Thaw") && Self.replicas(client, "digits") != 3
        }

        // No traffic: back to zero after the 6 s window and the 2 s grace period.
        try await waitUntil("scaled back to zero", timeout: 40, every: .milliseconds(200)) { try Self.replicas(client, "digits") == 0 }
        try await waitUntil("the kubelet stopped the pod", timeout: 10) { kubelet.running("digits") == 0 }

        daemons.activator.signal(SIGTERM)
        daemons.autoscaler.signal(SIGTERM)
        #expect(try await daemons.activator.waitForExit(timeout: 20) == 0, "\(daemons.activator.stderr)")
        #expect(try await daemons.autoscaler.waitForExit(timeout: 20) == 0, "\(daemons.autoscaler.stderr)")
    }

    @Test func aCrashLoopFailsWaitingRequestsAtOnceButUnschedulableKeepsThemWaiting() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("crashy"))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", Self.deployment("gpu"))
        let daemons = try await Daemons(api: api)
        let kubelet = try TestKubelet(api: api, autoscalerURL: daemons.autoscalerURL, behaviours: ["crashy": .crashLoop, "gpu": .unschedulable])
        let kubeletTask = Task.detached { await kubelet.run() }
        defer { kubelet.stop(); kubeletTask.cancel() }
        try await waitUntil("the activator routes both", timeout: 20) {
            try daemons.activatorKnows("ml/crashy") && daemons.activatorKnows("ml/gpu")
        }

        let started = ContinuousClock.now
        let crashed = try await daemons.request("crashy.ml.svc.cluster.local")
        #expect(crashed.status == 503, "\(crashed.body)")
        #expect(crashed.body.contains("CrashLoopBackOff"), "the reason reaches the client: \(crashed.body)")
        #expect(ContinuousClock.now - started < .seconds(15), "failed as soon as the pod's state said so, not at the request timeout")

        // No node has room: the request keeps waiting (here until curl's own 4 s limit) and the
        // autoscaler shows why, and does not take the replica back while the request waits.
        let waited = try await daemons.request("gpu.ml.svc.cluster.local", timeout: 4)
        #expect(waited.status == 0, "still waiting when curl gave up: \(waited.body)")
        let status = try daemons.autoscalerStatus()
        #expect(status.contains("Unschedulable: 0/3 nodes are available"), "\(status)")
        #expect(try Self.replicas(client, "gpu") == 1)
        let metrics = try CommandRun.run(["curl", "-sS", "\(daemons.autoscalerURL)/metrics"]).stdout
        #expect(metrics.contains(#"thaw_autoscaler_waiting_for_capacity{target="ml/gpu"} 1"#), "\(metrics)")
    }
}
