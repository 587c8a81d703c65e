import Foundation
import KubernetesAccess
import KubernetesClient
import Synchronization
import Testing
import ThawTestSupport

/// Two autoscaler replicas, one leading through a Lease on the fake API server, behind a stand-in
/// Service that sends stats and pokes to a ready replica, as kube-proxy would: the stand-by is
/// ready too, and forwards them to the leader.
@Suite(.serialized)
struct HighAvailabilityTests {
    /// Short timings so a takeover fits a test: the same rules as client-go's 15/10/2 s.
    static let election = ["--leader-elect", "--lease-namespace", "ml", "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5"]

    static func autoscaler(_ api: FakeKubernetesAPI, identity: String) async throws -> (TestProcess, String) {
        let process = try TestProcess("thaw-autoscaler", ["--kubeconfig", api.kubeconfig, "--namespace", "ml", "--port", "0",
                                                          "--identity", identity] + election, name: "autoscaler-\(identity)")
        let line = try await process.waitFor("thaw-autoscaler: http://")
        return (process, String(line[line.range(of: "http://")!.upperBound...]))
    }

    static func readiness(_ address: String) async throws -> Int {
        Int(try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/readyz"])) ?? 0
    }

    /// curl's output, run off the concurrency pool.
    static func curl(_ arguments: [String]) async throws -> String {
        try await offPool { try CommandRun.run(["curl"] + arguments).stdout }
    }

    /// A request that may wait long, as a process of its own: waiting holds no thread. (Waiting
    /// requests run through `offPool` held Dispatch's few worker threads for their whole wait, and
    /// the test's kubelet, which also runs there, started the pod only when they gave up.)
    static func waitingRequest(host: String, port: Int, path: String = "/", seconds: Int) async throws -> String {
        let curl = try TestProcess(url: try TestProcess.systemExecutable("curl"),
                                   arguments: ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", String(seconds), "-H", "Host: \(host)",
                                               "http://127.0.0.1:\(port)\(path)"], name: "curl")
        _ = try await curl.waitForExit(timeout: Double(seconds + 10))
        return curl.stdout
    }

    @Test func killingTheLeadingAutoscalerLosesNoWaitingRequest() async throws {
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", ClusterEndToEndTests.deployment("digits"))
        // Only for the forwarding check below: its waiting requests must not wake digits.
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", ClusterEndToEndTests.deployment("spare"))
        let (first, firstAddress) = try await Self.autoscaler(api, identity: "first")
        _ = try await first.waitFor("became the leader", timeout: 20)
        let (second, secondAddress) = try await Self.autoscaler(api, identity: "second")
        try await waitUntil("the stand-by to be up", timeout: 10) { try await Self.readiness(secondAddress) == 200 }
        // A stat sent to the stand-by reaches the leader.
        let stat = #"{"stats": [{"target": "ml/spare", "source": "activator/probe", "timestamp": \#(Date().timeIntervalSince1970), "averageConcurrency": 0, "requestCount": 0, "queueLength": 6, "averageProxiedConcurrency": 0, "proxiedRequestCount": 0}]}"#
        try await waitUntil("the stand-by to know the leader and forward", timeout: 10) {
            try await Self.curl(["-s", "-X", "POST", "--data-binary", stat, "http://\(secondAddress)/v1/stats"]).hasPrefix("ok")
        }
        let leaderStatus = try await Self.curl(["-s", "http://\(firstAddress)/status"])
        #expect(leaderStatus.contains("\"queueLength\" : 6"), "the leader has it: \(leaderStatus)")
        let lease = try String(decoding: client.get("/apis/coordination.k8s.io/v1/namespaces/ml/leases/thaw-autoscaler"), as: UTF8.self)
        #expect(lease.contains(#""holderIdentity": "first""#) || lease.contains(#""holderIdentity":"first""#), "\(lease)")
        #expect(lease.contains("acquireTime"), "kept through the renews: \(lease)")

        let service = try TestProcess(url: try TestProcess.systemExecutable("python3"),
                                      arguments: ["-u", FakeKubernetesAPI.script.replacingOccurrences(of: "fake_apiserver.py", with: "ready_service.py"),
                                                  secondAddress, firstAddress], name: "autoscaler-service")
        let servicePort = try await service.waitFor("listening ").split(separator: " ").last.map(String.init) ?? ""
        let serviceURL = "http://127.0.0.1:\(servicePort)"
        let activator = try TestProcess("thaw-activator", ["--kubeconfig", api.certificateKubeconfig, "--namespace", "ml", "--port", "0",
                                                           "--admin-port", "0", "--autoscaler-url", serviceURL, "--instance", "activator-1"])
        let listening = try await activator.waitFor("thaw-activator listening")
        func port(after label: String) throws -> Int {
            guard let range = listening.range(of: "\(label)=[IPv4]127.0.0.1/127.0.0.1:"),
                  let port = Int(listening[range.upperBound...].prefix { $0.isNumber }) else { throw TestFailure("no \(label) port in: \(listening)") }
            return port
        }
        let (proxyPort, adminPort) = (try port(after: "proxy"), try port(after: "admin"))
        let kubelet = try TestKubelet(api: api, autoscalerURL: serviceURL, behaviours: ["digits": .serve])
        let kubeletTask = Task.detached { await kubelet.run() }
        defer { kubelet.stop(); kubeletTask.cancel() }
        try await waitUntil("the activator to route digits", timeout: 20) {
            try await Self.curl(["-sS", "http://127.0.0.1:\(adminPort)/status"]).contains("\"ml/digits\"")
        }
        #expect(kubelet.running("digits") == 0, "at zero before the requests")

        // The leader dies (no chance to hand the Lease back) as the requests arrive at zero.
        first.signal(SIGKILL)
        let killed = ContinuousClock.now
        let answers = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    Int(try await Self.waitingRequest(host: "digits.ml.svc.cluster.local", port: proxyPort, path: "/predict", seconds: 40)) ?? 0
                }
            }
            var codes: [Int] = []
            for try await code in group { codes.append(code) }
            return codes
        }
        if answers != [200, 200, 200, 200, 200] {
            let routes = try await Self.curl(["-s", "http://127.0.0.1:\(adminPort)/status"])
            Issue.record("not every waiting request was answered: \(answers)\nactivator status: \(routes)\nactivator log:\n\(activator.stderr.suffix(4000))\nstand-by log:\n\(second.stderr.suffix(3000))\napi (pods):\n\(api.process.stderr.split(separator: "\n").filter { $0.contains("/pods") && !$0.contains("watch") }.suffix(30).joined(separator: "\n"))")
        }
        #expect(second.stderr.contains("became the leader"))
        #expect(ContinuousClock.now - killed < .seconds(30))
        let metrics = try await Self.curl(["-s", "http://\(secondAddress)/metrics"])
        #expect(metrics.contains("thaw_autoscaler_leader 1"), "\(metrics.split(separator: "\n").filter { $0.contains("leader") })")

        // A second activator: requests waiting in each count together at the (new) leader.
        let other = try TestProcess("thaw-activator", ["--kubeconfig", api.certificateKubeconfig, "--namespace", "ml", "--port", "0",
                                                       "--admin-port", "0", "--autoscaler-url", serviceURL, "--instance", "activator-2"])
        let otherListening = try await other.waitFor("thaw-activator listening")
        guard let otherRange = otherListening.range(of: "proxy=[IPv4]127.0.0.1/127.0.0.1:"),
              let otherPort = Int(otherListening[otherRange.upperBound...].prefix { $0.isNumber }) else { throw TestFailure("no proxy port in: \(otherListening)") }
        let otherAdmin = otherListening.range(of: "admin=[IPv4]127.0.0.1/127.0.0.1:").flatMap { Int(otherListening[$0.upperBound...].prefix { $0.isNumber }) } ?? 0
        try await waitUntil("the second activator to route spare", timeout: 20) {
            try await Self.curl(["-s", "http://127.0.0.1:\(otherAdmin)/status"]).contains("\"ml/spare\"")
        }
        // spare has no kubelet behind it: its requests wait, 2 in one activator and 3 in the other.
        let waiting = Task {
            try await withThrowingTaskGroup(of: String.self) { group in
                for port in [proxyPort, proxyPort, otherPort, otherPort, otherPort] {
                    group.addTask { try await Self.waitingRequest(host: "spare.ml.svc.cluster.local", port: port, seconds: 6) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        func spareQueue() async throws -> String {
            let status = try await Self.curl(["-s", "http://\(secondAddress)/status"])
            guard let range = status.range(of: "\"name\" : \"ml/spare\"") else { return "no ml/spare in \(status)" }
            return String(status[range.upperBound...].prefix(1200))
        }
        do {
            try await waitUntil("the leader to count both activators' waiting requests", timeout: 8) {
                try await spareQueue().contains("\"queueLength\" : 5")
            }
        } catch {
            throw TestFailure("\(error): \(try await spareQueue())\nfirst activator: \(try await Self.curl(["-s", "http://127.0.0.1:\(adminPort)/status"]))\nsecond activator: \(try await Self.curl(["-s", "http://127.0.0.1:\(otherAdmin)/status"]))\nfirst log:\n\(activator.stderr.suffix(1500))")
        }
        _ = try? await waiting.value
        other.signal(SIGTERM)

        // The activator is stopped (a rollout) with a request in flight: it finishes, then the activator exits.
        async let slow = Self.waitingRequest(host: "digits.ml.svc.cluster.local", port: proxyPort, path: "/slow?ms=1500", seconds: 20)
        try await waitUntil("the slow request in flight", timeout: 10) {
            try await Self.curl(["-sS", "http://127.0.0.1:\(adminPort)/status"]).contains("\"activeRequests\" : 1")
        }
        activator.signal(SIGTERM)
        #expect(try await slow == "200", "the in-flight request completes during the drain")
        #expect(try await activator.waitForExit(timeout: 40) == 0)
    }

    @Test func aGracefulStopHandsTheLeaseOverAtOnce() async throws {
        let api = try await FakeKubernetesAPI()
        let (first, _) = try await Self.autoscaler(api, identity: "first")
        _ = try await first.waitFor("became the leader", timeout: 20)
        let (second, _) = try await Self.autoscaler(api, identity: "second")
        try await Task.sleep(for: .seconds(1))
        first.signal(SIGTERM)
        let stopped = ContinuousClock.now
        #expect(try await first.waitForExit(timeout: 20) == 0)
        _ = try await second.waitFor("became the leader", timeout: 10)
        #expect(ContinuousClock.now - stopped < .seconds(2.5), "within a retry period or two, not a lease duration")
        #expect(first.stderr.contains("handed the Lease back"))
    }
}
