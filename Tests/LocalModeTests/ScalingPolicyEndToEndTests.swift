import AutoscalerDaemon
import Foundation
import Synchronization
import Testing
import ThawTestSupport

/// Thaw's policy against the KPA on one `thaw up`, the same bursty traffic sent to both at the same
/// time: two services identical but for `autoscaling.thaw.dev/policy`, replicas of a model server
/// that takes 5 s to load, every request held 1.5 s by it. Bursts come at a steady rhythm, longer
/// apart than the KPA keeps a replica; Thaw's policy learns the rhythm and pre-warms.
@Suite(.serialized)
struct ScalingPolicyEndToEndTests {
    static let bursts = 10
    static let burstSeconds = 8.0
    static let gapSeconds = 22.0
    static let perSecond = 4
    static let serviceMilliseconds = 1500

    /// What one service's requests saw, and what its replicas cost.
    struct Outcome: CustomStringConvertible {
        var waits: [Double] = []
        var replicaSeconds = 0.0
        /// Replicas running at each sample, for the failure message.
        var samples: [Int] = []
        var failures = 0
        /// Requests that waited for a replica to load (far longer than any queueing here could take).
        var coldStarts: Int { waits.filter { $0 > 2 }.count }
        var waited: Double { waits.reduce(0, +) }
        var description: String {
            "\(waits.count) answered, \(failures) failed, \(coldStarts) cold starts, \(String(format: "%.1f", waited)) s waited, "
                + "\(String(format: "%.0f", replicaSeconds)) replica-seconds, running each second: "
                + samples.map(String.init).joined(separator: "")
        }
    }

    /// Both services' outcomes, written by many request tasks and the sampler.
    final class Outcomes: Sendable {
        let byService = Mutex(["learned": Outcome(), "kpa": Outcome()])

        func update(_ service: String, _ change: (inout Outcome) -> Void) {
            byService.withLock { change(&$0[service]!) }
        }

        subscript(_ service: String) -> Outcome { byService.withLock { $0[service]! } }
    }

    static func yaml() -> String {
        var annotations = [
            "autoscaling.knative.dev/window": "6s",
            "autoscaling.thaw.dev/scale-to-zero-grace-period": "2s",
            "autoscaling.knative.dev/target": "3",
            "autoscaling.knative.dev/target-utilization-percentage": "100",
        ]
        annotations["autoscaling.thaw.dev/policy"] = "thaw"
        let thaw = EchoService.yaml(name: "learned", releases: [("v1", ", DELAY: \"5\"")], annotations: annotations)
        annotations["autoscaling.thaw.dev/policy"] = "kpa"
        let kpa = EchoService.yaml(name: "kpa", releases: [("v1", ", DELAY: \"5\"")], annotations: annotations)
        // One runtime document, then both services.
        let kpaService = kpa.components(separatedBy: "---\n").dropFirst().joined(separator: "---\n")
        return thaw + "---\n" + kpaService
    }

    @Test func learnedPreWarmingWaitsLessThanTheKPAForNoMoreReplicaSeconds() async throws {
        let up = try await ThawUp(yaml: Self.yaml(), services: ["learned", "kpa"])
        let outcomes = Outcomes()
        let done = ManagedFlag()
        // Replica-seconds from what is running, sampled every second for both at the same instant.
        async let sampling: Void = {
            while !done.isSet {
                if let status = try? await up.status() {
                    for (service, target) in [("learned", "learned-v1"), ("kpa", "kpa-v1")] {
                        let running = status[target]?.running ?? 0
                        outcomes.update(service) { $0.replicaSeconds += Double(running); $0.samples.append(min(running, 9)) }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }()
        defer { done.set() }
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for burst in 0..<Self.bursts {
                let burstStart = Double(burst) * (Self.burstSeconds + Self.gapSeconds)
                for index in 0..<Int(Self.burstSeconds) * Self.perSecond {
                    let at = burstStart + Double(index) / Double(Self.perSecond)
                    for service in ["learned", "kpa"] {
                        group.addTask {
                            try await Task.sleep(until: start + .milliseconds(Int(at * 1000)))
                            let sent = ContinuousClock.now
                            let response = try? await up.request(service, path: "/slow?ms=\(Self.serviceMilliseconds)", timeout: .seconds(60))
                            let took = ContinuousClock.now - sent
                            let wait = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
                                - Double(Self.serviceMilliseconds) / 1000
                            outcomes.update(service) {
                                if response?.status == 200 { $0.waits.append(max(0, wait)) } else { $0.failures += 1 }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        // The last burst's scale-down is paid for too: both are sampled until the KPA is back at zero.
        _ = try await up.waitUntil("both back at zero", timeout: 60) { ($0["kpa-v1"]?.running ?? 1) == 0 && ($0["learned-v1"]?.running ?? 1) == 0 }
        done.set()
        await sampling
        let final = try await up.status()
        let learned = outcomes["learned"], kpa = outcomes["kpa"]
        let comment = Comment(rawValue: "thaw: \(learned); kpa: \(kpa); thaw's reason now: \(final["learned-v1"]?.reason ?? "?")")
        // One line with the numbers, so a passing run shows them too (docs/scaling.md quotes it).
        print("scaling end to end: thaw \(learned.coldStarts) cold starts, \(String(format: "%.1f", learned.waited)) s waited, "
              + "\(String(format: "%.0f", learned.replicaSeconds)) replica-s; kpa \(kpa.coldStarts) cold starts, "
              + "\(String(format: "%.1f", kpa.waited)) s waited, \(String(format: "%.0f", kpa.replicaSeconds)) replica-s")
        #expect(learned.failures == 0 && kpa.failures == 0, comment)
        #expect(learned.coldStarts < kpa.coldStarts, comment)
        #expect(learned.waited < kpa.waited, comment)
        #expect(learned.replicaSeconds <= kpa.replicaSeconds, comment)
        #expect(final["learned-v1"]?.policy == "thaw" && final["kpa-v1"]?.policy == "kpa")
        #expect(final["learned-v1"]?.loadTimeSeconds.map { (5...12).contains($0) } == true, "the load time was measured: \(comment)")
    }
}
