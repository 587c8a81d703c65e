import Testing
@testable import Autoscaling

/// A second, pushed signal (GPU utilization) next to concurrency: the larger desired count wins, and
/// a missing push holds the scale instead of letting the first signal alone scale in.
struct GPUSignalTests {
    static func specs() -> (DeciderSpec, DeciderSpec, ReplicaPolicy) {
        var primary = DeciderSpec(metric: .concurrency, targetValue: 10, totalValue: 10, stableWindow: .seconds(6), panicWindow: .seconds(1))
        primary.initialScale = 1
        var gpu = primary
        gpu.metric = .gpu
        gpu.targetValue = 60
        gpu.totalValue = 100
        let replicas = ReplicaPolicy(minScale: 1, initialScale: 1, stableWindow: .seconds(6), scaleToZeroGracePeriod: .seconds(2))
        return (primary, gpu, replicas)
    }

    /// One second of light request load from each of `ready` replicas, and the collector's GPU total.
    static func second(_ scaler: inout TargetScaler, at t: Double, ready: Int, gpuTotal: Double?) {
        for _ in 0..<ready {
            _ = scaler.record(RequestStat(averageConcurrency: 1, requestCount: 5), fromReplica: true, at: ts(t), readyReplicas: ready)
        }
        if let gpuTotal { scaler.record(gpuTotal, for: .gpu, at: ts(t)) }
    }

    @Test func busyGPUsAskForMoreReplicasThanLightRequestLoad() {
        let (primary, gpu, replicas) = Self.specs()
        var scaler = TargetScaler(spec: primary, replicas: replicas, secondary: gpu, readyReplicas: 3, now: ts(0))
        var step: TargetScaler.Step?
        for t in 0..<8 {
            // 3 replicas at 90 % GPU each: 270 / 60 per replica → 5 replicas; requests alone want 1.
            Self.second(&scaler, at: Double(t), ready: 3, gpuTotal: 270)
            step = scaler.step(readyReplicas: 3, activatorInPath: true, now: ts(Double(t)))
        }
        #expect(step?.decision?.desired == 5)
        #expect(step?.plan.replicas == 5)
    }

    @Test func aMissingGPUSignalHoldsTheScale() {
        let (primary, gpu, replicas) = Self.specs()
        var scaler = TargetScaler(spec: primary, replicas: replicas, secondary: gpu, readyReplicas: 4, now: ts(0))
        Self.second(&scaler, at: 0, ready: 4, gpuTotal: 200)
        var last: TargetScaler.Step?
        // Then only request reports (light: 4 in flight in all) for 40 s: the collector went quiet.
        for t in 1..<40 {
            Self.second(&scaler, at: Double(t), ready: 4, gpuTotal: nil)
            last = scaler.step(readyReplicas: 4, activatorInPath: true, now: ts(Double(t)))
            #expect((last?.decision?.desired ?? 4) >= 4, "t=\(t): never below the ready count while the GPU signal is missing")
        }
        #expect(last?.plan.replicas == nil || last?.plan.replicas == 4)
    }

    @Test func gpuAsThePrimaryMetricWaitsForItsFirstValue() {
        var (_, gpu, replicas) = Self.specs()
        gpu.targetValue = 50
        var scaler = TargetScaler(spec: gpu, replicas: replicas, readyReplicas: 2, now: ts(0))
        let before = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(1))
        #expect(before.decision == nil, "no GPU value yet: no decision")
        for t in 2..<10 {
            scaler.record(150, for: .gpu, at: ts(Double(t)))
            _ = scaler.record(RequestStat(averageConcurrency: 0, requestCount: 0), fromReplica: true, at: ts(Double(t)), readyReplicas: 2)
        }
        let after = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(9))
        #expect(after.decision?.desired == 3)
    }

    @Test func aFailingPrimarySignalHoldsThenFallsBackAfterTheThreshold() {
        var (_, gpu, replicas) = Self.specs()
        gpu.targetValue = 50
        replicas.maxScale = 10
        var scaler = TargetScaler(spec: gpu, replicas: replicas, fallback: SignalFallback(replicas: 6, afterFailures: 3),
                                  readyReplicas: 2, now: ts(0))
        for t in 0..<8 {
            scaler.record(60, for: .gpu, at: ts(Double(t)))
            _ = scaler.record(RequestStat(averageConcurrency: 0, requestCount: 0), fromReplica: true, at: ts(Double(t)), readyReplicas: 2)
        }
        let settled = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(8))
        #expect(settled.decision?.desired == 2, "60 % in all at 50 % per replica")
        // Two failed reads: held at 2 (no decision), even though the window still has old values.
        for failure in 1...2 {
            scaler.recordFailure(for: .gpu, readyReplicas: 2)
            let held = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(8 + Double(failure)))
            #expect(held.decision == nil)
            #expect(held.fallbackWant == nil)
            #expect(held.plan.replicas == nil || held.plan.replicas == 2)
        }
        scaler.recordFailure(for: .gpu, readyReplicas: 2)
        let fallen = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(11))
        #expect(fallen.fallbackWant == 6)
        #expect(fallen.plan.replicas == 6)
        // A value again: the decider takes over (the window still holds the old values).
        scaler.record(60, for: .gpu, at: ts(12))
        let back = scaler.step(readyReplicas: 6, activatorInPath: true, now: ts(12))
        #expect(back.fallbackWant == nil)
        #expect(back.decision != nil)
        #expect(scaler.consecutiveFailures[.gpu] == 0)
    }

    @Test func aFailingSecondSignalFallsBackToTheLargerOfFallbackAndThePrimary() {
        let (primary, gpu, replicas) = Self.specs()
        var scaler = TargetScaler(spec: primary, replicas: replicas, secondary: gpu, fallback: SignalFallback(replicas: 3, afterFailures: 1),
                                  readyReplicas: 2, now: ts(0))
        for t in 0..<8 {
            Self.second(&scaler, at: Double(t), ready: 2, gpuTotal: 60)
            _ = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t)))
        }
        scaler.recordFailure(for: .gpu, readyReplicas: 2)
        Self.second(&scaler, at: 8, ready: 2, gpuTotal: nil)
        let step = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(8))
        #expect(step.fallbackWant == 3)
        #expect(step.plan.replicas == 3, "the fallback (3) is above what requests want (1)")
    }

    @Test func withoutAFallbackFailuresOnlyHold() {
        let (_, gpu, replicas) = Self.specs()
        var scaler = TargetScaler(spec: gpu, replicas: replicas, readyReplicas: 3, now: ts(0))
        var settled: TargetScaler.Step?
        // 180 % in all, then the last two values fall to 60 %: deciding on what is left in the window
        // once the reads fail would scale in.
        for t in 0..<8 {
            scaler.record(t < 6 ? 180 : 60, for: .gpu, at: ts(Double(t)))
            _ = scaler.record(RequestStat(averageConcurrency: 0, requestCount: 0), fromReplica: true, at: ts(Double(t)), readyReplicas: 3)
            settled = scaler.step(readyReplicas: 3, activatorInPath: true, now: ts(Double(t)))
        }
        #expect(settled?.decision?.desired == 3, "about 146 % over the window at 60 % per replica")
        var replicasAsked: [Int] = []
        var decidedWhileFailing = 0
        for t in 8..<30 {
            scaler.recordFailure(for: .gpu, readyReplicas: 3)
            _ = scaler.record(RequestStat(averageConcurrency: 0, requestCount: 0), fromReplica: true, at: ts(Double(t)), readyReplicas: 3)
            let step = scaler.step(readyReplicas: 3, activatorInPath: true, now: ts(Double(t)))
            #expect(step.fallbackWant == nil)
            if step.decision != nil { decidedWhileFailing += 1 }
            replicasAsked.append(step.plan.replicas ?? step.plan.want)
        }
        #expect(decidedWhileFailing == 0, "nothing is decided on a failing signal's old values")
        #expect(replicasAsked.allSatisfy { $0 >= 3 }, "22 s of failures, past the 20 s staleness too, never scale in: \(replicasAsked)")
    }

    @Test func anEmptyAnswerForATargetAtZeroIsNotAFailureAndNeverWakesIt() {
        var (_, gpu, replicas) = Self.specs()
        replicas.minScale = 0
        var scaler = TargetScaler(spec: gpu, replicas: replicas, fallback: SignalFallback(replicas: 4, afterFailures: 1),
                                  readyReplicas: 0, now: ts(0))
        for t in 0..<30 {
            let counted = !scaler.recordFailure(for: .gpu, empty: true, readyReplicas: 0).isEmpty
            #expect(!counted, "nothing selected, nothing ready: the normal idle state")
            let step = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(Double(t)))
            #expect(step.fallbackWant == nil)
            #expect((step.plan.replicas ?? 0) == 0, "t=\(t): an idle target stays at zero")
        }
        #expect(scaler.consecutiveFailures[.gpu, default: 0] == 0)
        // With replicas ready, the same empty answer is a failure: their series should be there.
        let counted = !scaler.recordFailure(for: .gpu, empty: true, readyReplicas: 2).isEmpty
        #expect(counted)
        #expect(scaler.fallbackReplicas(for: .gpu) == 4)
    }

    @Test func requestsWaitingForAGPUTargetAtZeroWakeIt() {
        var (_, gpu, replicas) = Self.specs()
        replicas.minScale = 0
        replicas.initialScale = 0
        var scaler = TargetScaler(spec: gpu, replicas: replicas, readyReplicas: 0, now: ts(0))
        for t in 0..<20 {
            let idle = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(Double(t)))
            #expect((idle.plan.replicas ?? 0) == 0, "no requests, no GPU signal: stays at zero")
        }
        // No replica, so no GPU series: only the activator's poke says someone is waiting.
        let urgent = scaler.poke(queueLength: 3, readyReplicas: 0, at: ts(20))
        #expect(urgent)
        let woken = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(20))
        #expect(woken.plan.replicas == 1)
        #expect(woken.plan.activatorMode == .proxy, "the activator stays in the path while the first replica starts")
    }
}
