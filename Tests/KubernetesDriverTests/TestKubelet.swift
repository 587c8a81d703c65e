import Foundation
import KubernetesAccess
import KubernetesClient
import Synchronization
import ThawTestSupport

/// The test's kubelet and scheduler: it follows each Deployment's `spec.replicas` in the fake API
/// server and makes pods for it. A serving pod is real: an echo-backend model server and a
/// `thaw-queue` sidecar on a loopback address of its own (127.0.B.N), so each pod has its own IP, and
/// the pod is marked Running and Ready with that IP once the sidecar's readiness answers. Other
/// deployments get pods that no node has room for, or whose container crash-loops.
final class TestKubelet: Sendable {
    enum Behaviour: Sendable {
        case serve
        case unschedulable
        case crashLoop
    }

    struct Pod: Sendable {
        var name: String
        var ip: String
        var model: TestProcess?
        var sidecar: TestProcess?
    }

    let client: KubernetesClient
    let namespace = "ml"
    let autoscalerURL: String
    let behaviours: [String: Behaviour]
    /// 127.0.B.x: a block of its own per kubelet, so tests running at once never share an address.
    let block = Int.random(in: 20...250)
    private let pods = Mutex<[String: [Pod]]>([:])
    private let nextAddress = Mutex(2)
    private let stopped = Atomic(false)
    /// Every pod name the kubelet started serving, in order.
    let started = Mutex<[String]>([])

    init(api: FakeKubernetesAPI, autoscalerURL: String, behaviours: [String: Behaviour]) throws {
        client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        self.autoscalerURL = autoscalerURL
        self.behaviours = behaviours
    }

    deinit {
        for pod in pods.withLock({ $0.values.flatMap { $0 } }) {
            pod.sidecar?.signal(SIGKILL)
            pod.model?.signal(SIGKILL)
        }
    }

    /// Reconciles every 100 ms until `stop`.
    func run() async {
        while !stopped.load(ordering: .acquiring) {
            for (deployment, behaviour) in behaviours {
                try? await reconcile(deployment, behaviour)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    func stop() { stopped.store(true, ordering: .releasing) }

    func running(_ deployment: String) -> Int { pods.withLock { $0[deployment]?.count ?? 0 } }

    private func reconcile(_ deployment: String, _ behaviour: Behaviour) async throws {
        let (client, namespace) = (client, namespace)
        // libcurl blocks: off the concurrency pool, which other tests' servers share.
        let body = try await offPool { try client.get("/apis/apps/v1/namespaces/\(namespace)/deployments/\(deployment)") }
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        let wanted = (object?["spec"] as? [String: Any])?["replicas"] as? Int ?? 1
        while running(deployment) < wanted { try await startPod(deployment, behaviour) }
        while running(deployment) > wanted {
            guard let pod = pods.withLock({ $0[deployment]?.popLast() }) else { break }
            _ = try? await offPool { try client.delete("/api/v1/namespaces/\(namespace)/pods/\(pod.name)") }
            pod.sidecar?.signal(SIGTERM)
            pod.model?.signal(SIGTERM)
        }
    }

    private func startPod(_ deployment: String, _ behaviour: Behaviour) async throws {
        let host = nextAddress.withLock { next in
            defer { next += 1 }
            return next
        }
        let ip = "127.0.\(block).\(host)"
        let name = "\(deployment)-\(UUID().uuidString.prefix(5).lowercased())"
        let client = client
        let podJSON = Array("""
            {"metadata": {"name": "\(name)", "labels": {"app": "\(deployment)"}},
             "spec": {"containers": [{"name": "model", "image": "echo:1"}, {"name": "thaw-queue", "image": "thaw:1"}]},
             "status": {"phase": "Pending"}}
            """.utf8)
        _ = try await offPool { [namespace] in try client.post("/api/v1/namespaces/\(namespace)/pods", podJSON) }
        var pod = Pod(name: name, ip: ip)
        let status: String
        switch behaviour {
        case .unschedulable:
            status = #"{"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}"#
        case .crashLoop:
            status = #"{"phase": "Running", "podIP": "\#(ip)", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [{"name": "model", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container=model"}}}]}"#
        case .serve:
            let model = try TestProcess("echo-backend", ["--host", ip, "--port", "0", "--name", name], name: "\(name)-model")
            let port = try await model.waitFor("listening on ").split(separator: " ").last.map(String.init) ?? ""
            let sidecar = try TestProcess("thaw-queue", ["--host", ip, "--port", "8012", "--admin-port", "0", "--target", "\(namespace)/\(deployment)",
                                                         "--replica", name, "--upstream", "\(ip):\(port)", "--readiness-path", "/ready",
                                                         "--autoscaler-url", autoscalerURL], name: "\(name)-queue")
            try await sidecar.waitFor("thaw-queue listening")
            pod.model = model
            pod.sidecar = sidecar
            status = #"{"phase": "Running", "podIP": "\#(ip)", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}], "containerStatuses": [{"name": "model", "ready": true, "state": {"running": {}}}]}"#
            started.withLock { $0.append(name) }
        }
        pods.withLock { $0[deployment, default: []].append(pod) }
        let patch = Array(#"{"status": \#(status)}"#.utf8)
        _ = try await offPool { [namespace] in try client.mergePatch("/api/v1/namespaces/\(namespace)/pods/\(name)/status", patch) }
    }
}
