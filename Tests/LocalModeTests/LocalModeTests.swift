import AutoscalerDaemon
import ControlHTTP
import Foundation
import NIOCore
import Synchronization
import Testing
import ThawTestSupport
import ThawVocabulary

/// The whole loop with real processes: `thaw up`, its activator and autoscaler, replicas of
/// echo-backend behind thaw-queue sidecars. Serialized: each test runs a small cluster on 2 cores.
@Suite(.serialized)
struct LocalModeTests {
    static let fastScaling = [
        "autoscaling.knative.dev/window": "6s",
        "autoscaling.thaw.dev/scale-to-zero-grace-period": "2s",
        "autoscaling.knative.dev/target": "2",
        "autoscaling.knative.dev/target-utilization-percentage": "100",
    ]

    @Test func oneHundredConcurrentFirstRequestsAreAllAnsweredAfterAScaleFromZero() async throws {
        // 100 waiting requests at 20 per replica ask for 5 replicas; the bound keeps the machine calm.
        var annotations = Self.fastScaling
        annotations["autoscaling.knative.dev/target"] = "20"
        let up = try await ThawUp(yaml: EchoService.yaml(name: "cold", releases: [("v1", ", DELAY: \"1\"")], annotations: annotations,
                                                         maxReplicas: 3),
                                  services: ["cold"])
        let before = try await up.status()
        #expect(before["cold-v1"]?.requested == 0)
        #expect(before["cold-v1"]?.ready == 0)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<100 { group.addTask { try await up.request("cold", path: "/headers").status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "statuses: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        let after = try await up.status()
        #expect((after["cold-v1"]?.ready ?? 0) >= 1)
        #expect((after["cold-v1"]?.requested ?? 0) <= 3)
    }

    @Test func loadNeedingSeveralReplicasScalesUpThenEverythingScalesBackToZero() async throws {
        let up = try await ThawUp(yaml: EchoService.yaml(name: "busy", releases: [("v1", "")], annotations: Self.fastScaling),
                                  services: ["busy"])
        // 8 clients in a closed loop, each request held 200 ms by the model server: concurrency 8
        // against a target of 2 per replica needs 4 replicas.
        let stop = ManagedFlag()
        async let load: [Int] = withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var codes: [Int] = []
                    while !stop.isSet { codes.append(try await up.request("busy", path: "/slow?ms=200").status) }
                    return codes
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        // Set on every way out, after `load` so it runs before `load` is awaited at scope exit: a
        // failed wait below must end the clients, or the test waits on them forever.
        defer { stop.set() }
        let scaled = try await up.waitUntil("several ready replicas under load", timeout: 40) { status in
            (status["busy-v1"]?.ready ?? 0) >= 3
        }
        // Load on the scaled-up replicas too (8 clients, 200 ms each: about 80 more requests), so the
        // count below does not depend on how fast the scale-up was.
        try await Task.sleep(for: .seconds(2))
        stop.set()
        let codes = try await load
        #expect(codes.count > 20)
        #expect(codes.allSatisfy { $0 == 200 }, "codes: \(Dictionary(grouping: codes, by: { $0 }).mapValues(\.count))")
        #expect((scaled["busy-v1"]?.requested ?? 0) >= 3)
        // Idle: a whole stable window (6 s) without traffic, then the 2 s grace period, then zero.
        let idle = try await up.waitUntil("scale to zero after the load", timeout: 40) { status in
            status["busy-v1"]?.requested == 0 && status["busy-v1"]?.running == 0
        }
        #expect(idle["busy-v1"]?.activity.hasPrefix("inactive") == true)
    }

    @Test func theCanaryGetsItsShareOfTheServiceTraffic() async throws {
        let up = try await ThawUp(
            yaml: EchoService.yaml(name: "split", releases: [("v1", ""), ("v2", "")], canary: "v2", canaryPercent: 20,
                                   annotations: Self.fastScaling, minReplicas: 1),
            services: ["split"])
        try await up.waitUntil("both releases ready", timeout: 30) { ($0["split-v1"]?.ready ?? 0) >= 1 && ($0["split-v2"]?.ready ?? 0) >= 1 }
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let response = try await up.request("split", path: "/headers")
            #expect(response.status == 200)
            counts[response.header("x-backend") ?? "?", default: 0] += 1
        }
        let share = Double(counts["v2", default: 0]) / 400
        #expect(abs(share - 0.2) <= 0.04, "counts: \(counts)")
        #expect(counts["v1", default: 0] + counts["v2", default: 0] == 400)
        // The configured share is a series too, for the dashboard to set the measured one beside.
        let metrics = try await HTTPCall.perform(on: ThawUp.group.any(), to: up.activatorAdmin, path: "/metrics", timeout: .seconds(5)).body
        #expect(metrics.contains(#"thaw_activator_canary_traffic_percent{service="split",default_target="split-v1",canary_target="split-v2"} 20"#),
                "\(metrics.split(separator: "\n").filter { $0.contains("canary") })")
    }

    @Test func aCrashLoopingReleaseFailsBufferedRequestsFast() async throws {
        let up = try await ThawUp(yaml: EchoService.yaml(name: "broken", releases: [("v1", "")], annotations: Self.fastScaling,
                                                         command: "false"),
                                  services: ["broken"])
        // The request would wait out its 300 s timeout (and get 504) if the crash loop were not
        // reported; a 503 naming the crash loop shows it was failed as soon as it was known.
        let response = try await up.request("broken", path: "/headers", timeout: .seconds(60))
        #expect(response.status == 503, "body: \(response.body)")
        #expect(response.body.contains("crash-looping"), "body: \(response.body)")
        #expect(response.body.contains("exited with status 1"), "body: \(response.body)")
        let status = try await up.status()
        #expect(status["broken-v1"]?.failure?.contains("crash-looping") == true)
    }

    @Test func aModelServerThatNeverGetsReadyFailsItsTargetAtTheProgressDeadlineWithWhatItAnswered() async throws {
        // Before, such a replica sat in "activating" with nothing logged, and the request got 504
        // after its 300 s timeout.
        var annotations = Self.fastScaling
        annotations["serving.knative.dev/progress-deadline"] = "3s"
        let up = try await ThawUp(yaml: EchoService.yaml(name: "stuck", releases: [("v1", ", DELAY: \"3600\"")], annotations: annotations),
                                  services: ["stuck"])
        let start = ContinuousClock.now
        let response = try await up.request("stuck", path: "/headers", timeout: .seconds(60))
        #expect(response.status == 503, "body: \(response.body)")
        #expect(response.body.contains("did not pass its readiness check (GET /ready on its model server) within 3.0 seconds"), "body: \(response.body)")
        #expect(response.body.contains("it answered: 503"), "what the model server said: \(response.body)")
        #expect(ContinuousClock.now - start < .seconds(30), "refused at the deadline, not at the request timeout")
        let status = try await up.status()
        #expect(status["stuck-v1"]?.failure?.contains("progress-deadline") == true)
    }

    @Test func aReplicaWhoseModelServerDiesIsReplaced() async throws {
        let up = try await ThawUp(yaml: EchoService.yaml(name: "phoenix", releases: [("v1", "")], annotations: Self.fastScaling, minReplicas: 1),
                                  services: ["phoenix"])
        try await up.waitUntil("one ready replica", timeout: 30) { $0["phoenix-v1"]?.ready == 1 }
        let models = up.childPids().filter { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("echo-backend")
        }
        try #require(models.count == 1, "one model-server process; children: \(up.childPids())")
        kill(models[0], SIGKILL)
        try await up.process.waitFor("replica=phoenix-v1-2 target=phoenix-v1 [LocalDriver] replica ready", timeout: 30)
        let replaced = try await up.waitUntil("the new replica counted ready", timeout: 10) { $0["phoenix-v1"]?.ready == 1 }
        #expect(replaced["phoenix-v1"]?.failure == nil, "one crash is not a crash loop")
        #expect(try await up.request("phoenix", path: "/headers").status == 200)
        #expect(up.process.stderr.contains("replica failed; starting another after a backoff"))
        #expect(up.process.stderr.contains("was killed by signal 9"))
    }

    @Test func sigtermStopsEveryReplicaAndLeavesNoProcessBehind() async throws {
        let up = try await ThawUp(yaml: EchoService.yaml(name: "term", releases: [("v1", ""), ("v2", "")], canary: "v2", canaryPercent: 50,
                                                         annotations: Self.fastScaling, minReplicas: 1),
                                  services: ["term"])
        try await up.waitUntil("replicas of both releases", timeout: 30) { ($0["term-v1"]?.ready ?? 0) >= 1 && ($0["term-v2"]?.ready ?? 0) >= 1 }
        #expect(try await up.request("term", path: "/headers").status == 200)
        let children = up.childPids()
        #expect(children.count >= 4, "a model server and a sidecar per replica; found \(children)")
        // Replicas must not hold the activator's listening socket: it would stay open after the
        // activator closed it, and outlive it in any process a replica left behind.
        let listener = try #require(ThawUp.listeningSocketInode(port: up.activator.port))
        for child in children {
            #expect(!ThawUp.socketInodes(of: child).contains(listener), "child \(child) holds the activator's listening socket")
        }
        up.process.signal(SIGTERM)
        let exit = try await up.process.waitForExit(timeout: 30)
        #expect(exit == 0, "stderr:\n\(up.process.stderr)")
        let survivors = children.filter(ThawUp.isAlive)
        #expect(survivors.isEmpty, "still running: \(survivors)")
        #expect(up.process.stderr.contains("all replicas stopped"))
    }
}

/// A flag one task sets and others poll.
final class ManagedFlag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

