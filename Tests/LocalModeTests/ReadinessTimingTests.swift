import Foundation
import Testing
import ThawTestSupport

/// The container's readinessProbe timing, applied by local mode as a kubelet would (issue 14: it
/// was ignored with a note, so a model server whose readiness failed after loading kept getting
/// traffic, and one that needed a delay before its first probe got none).
@Suite(.serialized) struct ReadinessTimingTests {
    static func yaml(readyFile: String, probe: String) -> String {
        """
        apiVersion: tensorstack.dev/v1beta1
        kind: MLService
        metadata: {name: flaky}
        spec:
          default: v1
          releases:
          - name: v1
            predictor:
              minReplicas: 1
              maxReplicas: 1
              template:
                metadata:
                  annotations: {autoscaling.knative.dev/window: "6s"}
                spec:
                  containers:
                  - command: ["echo-backend"]
                    args: ["--port", "{{.PORT}}", "--name", "v1", "--ready-file", "\(readyFile)"]
                    readinessProbe: \(probe)
        """
    }

    @Test func aReplicaFailingItsProbeLeavesRotationAndComesBackWhenItPasses() async throws {
        let readyFile = FileManager.default.temporaryDirectory.appendingPathComponent("ready-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: readyFile, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: readyFile) }
        let up = try await ThawUp(yaml: Self.yaml(readyFile: readyFile, probe: "{httpGet: {path: /ready}, periodSeconds: 1, failureThreshold: 2}"),
                                  services: ["flaky"])
        try await up.waitUntil("one ready replica", timeout: 30) { $0["flaky-v1"]?.ready == 1 }
        #expect(try await up.request("flaky", path: "/headers").status == 200)

        // The model server says it is not ready: two failed probes a second apart take it out.
        try FileManager.default.removeItem(atPath: readyFile)
        let removed = ContinuousClock.now
        try await up.waitUntil("the replica out of rotation", timeout: 10) { $0["flaky-v1"]?.ready == 0 }
        #expect(ContinuousClock.now - removed >= .seconds(1), "not on the first failure")
        #expect(up.process.stderr.contains("failed its readiness probe; out of rotation"), "said in the log")
        await #expect(throws: (any Error).self, "nothing is routed to it: the request waits") {
            _ = try await up.request("flaky", path: "/headers", timeout: .seconds(2))
        }
        #expect(Self.isRunning(up), "readiness restarts nothing")

        FileManager.default.createFile(atPath: readyFile, contents: Data())
        try await up.waitUntil("the replica back in rotation", timeout: 10) { $0["flaky-v1"]?.ready == 1 }
        #expect(try await up.request("flaky", path: "/headers", timeout: .seconds(10)).status == 200)
        #expect(up.process.stderr.contains("back in rotation"))
    }

    @Test func nothingIsRoutedBeforeTheInitialDelay() async throws {
        let readyFile = FileManager.default.temporaryDirectory.appendingPathComponent("ready-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: readyFile, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: readyFile) }
        let started = ContinuousClock.now
        let up = try await ThawUp(yaml: Self.yaml(readyFile: readyFile, probe: "{httpGet: {path: /ready}, initialDelaySeconds: 4}"),
                                  services: ["flaky"])
        // The model server is ready at once; the first request still waits out the declared delay.
        #expect(try await up.request("flaky", path: "/headers", timeout: .seconds(30)).status == 200)
        #expect(ContinuousClock.now - started >= .seconds(4))
    }

    static func isRunning(_ up: ThawUp) -> Bool {
        up.childPids().contains { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("echo-backend")
        }
    }
}
