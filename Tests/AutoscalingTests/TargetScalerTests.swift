import Testing
import Autoscaling

/// One target's whole decision loop: reports, pokes, steps, and the missing-data hold.
///
/// Unless a test says otherwise: target 10 per replica (total 10), panic threshold 2, stable window
/// 6 s, panic window 1 s, scale-to-zero grace period 2 s, min-scale 0, staleness after 4 s.
@Suite("TargetScaler")
struct TargetScalerTests {
    private static func spec(initialScale: Int = 0, targetBurstCapacity: Double = 211) -> DeciderSpec {
        DeciderSpec(targetValue: 10, totalValue: 10, targetBurstCapacity: targetBurstCapacity,
                    stableWindow: .seconds(6), panicWindow: .seconds(1), initialScale: initialScale)
    }

    private static func policy(minScale: Int = 0, initialScale: Int = 0) -> ReplicaPolicy {
        ReplicaPolicy(minScale: minScale, initialScale: initialScale, stableWindow: .seconds(6),
                      scaleToZeroGracePeriod: .seconds(2))
    }

    private func makeScaler(initialScale: Int = 0, readyReplicas: Int = 0, targetBurstCapacity: Double = 211,
                            at start: Double = 0) -> TargetScaler {
        TargetScaler(spec: Self.spec(initialScale: initialScale, targetBurstCapacity: targetBurstCapacity),
                     replicas: Self.policy(initialScale: initialScale), readyReplicas: readyReplicas, now: ts(start))
    }

    private func load(_ concurrency: Double) -> RequestStat {
        RequestStat(averageConcurrency: concurrency, requestCount: concurrency)
    }

    // MARK: - Poke

    @Test("a poke for a target with no ready replica decides at once and plans one replica")
    func pokeScalesFromZero() {
        var scaler = makeScaler()
        let idle = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(idle.decision == nil, "no data before the poke")
        #expect(idle.plan.replicas == nil)

        let decideNow = scaler.poke(queueLength: 1, readyReplicas: 0, at: ts(0.5))
        #expect(decideNow)
        let step = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(0.5))
        #expect(!step.holding)
        #expect(step.decision?.desired == 1)
        #expect(step.plan.replicas == 1)
        #expect(step.plan.want == 1)
        #expect(step.plan.activatorMode == .proxy)
    }

    @Test("a poke on a fresh scaler, before any step, already plans one replica")
    func pokeBeforeFirstStep() {
        var scaler = makeScaler()
        let decideNow = scaler.poke(queueLength: 0, readyReplicas: 0, at: ts(0.25))
        #expect(decideNow)
        let step = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(0.25))
        #expect(step.plan.replicas == 1)
    }

    @Test("the waiting requests count as demand: a long queue asks for enough replicas")
    func pokeQueueCountsAsDemand() {
        var scaler = makeScaler()
        let decideNow = scaler.poke(queueLength: 25, readyReplicas: 0, at: ts(0))
        #expect(decideNow)
        let step = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(step.decision?.desired == 3)
        #expect(step.plan.replicas == 3)
    }

    @Test("a poke with ready replicas decides only when it crosses the panic threshold")
    func pokeWithReadyReplicas() {
        var small = makeScaler(readyReplicas: 1)
        let decideNow = small.poke(queueLength: 5, readyReplicas: 1, at: ts(0))
        #expect(!decideNow, "ceil(5/10) = 1 < 2 x 1 ready")
        var large = makeScaler(readyReplicas: 1)
        let decideNow2 = large.poke(queueLength: 20, readyReplicas: 1, at: ts(0))
        #expect(decideNow2, "ceil(20/10) = 2 >= 2 x 1 ready")
    }

    // MARK: - Panic threshold on record

    @Test("a report whose panic-window demand reaches the threshold asks for a decision now", arguments: [
        (10.0, 1, false),   // ceil(10/10) = 1 < 2
        (10.01, 1, true),   // ceil(1.001) = 2 >= 2
        (15, 1, true),
        (30, 1, true),
        (30, 2, false),     // 3 / 2 = 1.5 < 2
        (40, 2, true),      // 4 / 2 = 2
        (5, 0, false),      // no ready replica: compared with one
        (20, 0, true),
    ] as [(Double, Int, Bool)])
    func recordCrossesPanicThreshold(concurrency: Double, ready: Int, urgent: Bool) {
        var scaler = makeScaler(readyReplicas: min(ready, 1))
        let recorded = scaler.record(load(concurrency), fromReplica: true, at: ts(0), readyReplicas: ready)
        #expect(recorded == urgent)
    }

    @Test("reports in the same second add up before the threshold is checked")
    func recordsAddUpWithinASecond() {
        var scaler = makeScaler(readyReplicas: 1)
        let urgent = scaler.record(load(8), fromReplica: true, at: ts(0), readyReplicas: 1)
        #expect(!urgent)
        // 8 + 8 = 16 in the same second: ceil(16/10) = 2 >= 2 x 1 ready.
        let urgent2 = scaler.record(load(8), fromReplica: false, at: ts(0.5), readyReplicas: 1)
        #expect(urgent2)
    }

    @Test("once the decider is panicking, reports over the threshold no longer ask for a decision")
    func recordWhilePanicking() {
        var scaler = makeScaler(readyReplicas: 1)
        let urgent = scaler.record(load(30), fromReplica: true, at: ts(0), readyReplicas: 1)
        #expect(urgent)
        let step = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(0))
        #expect(step.decision?.panicking == true)
        #expect(step.decision?.desired == 3)
        #expect(scaler.decider.isPanicking)
        let urgent2 = scaler.record(load(30), fromReplica: true, at: ts(1), readyReplicas: 1)
        #expect(!urgent2)
        let urgent3 = scaler.record(load(100), fromReplica: true, at: ts(2), readyReplicas: 1)
        #expect(!urgent3)
    }

    @Test("a scaler created with several ready replicas starts panicking, so reports do not ask for a decision")
    func recordWhenStartedInPanic() {
        var scaler = makeScaler(readyReplicas: 2)
        #expect(scaler.decider.isPanicking)
        let urgent = scaler.record(load(100), fromReplica: true, at: ts(0), readyReplicas: 2)
        #expect(!urgent)
    }

    @Test("proxied requests a sidecar reports are not counted twice")
    func proxiedRequestsAreSubtracted() {
        var scaler = makeScaler(readyReplicas: 1)
        // The activator reports 30; the replica's 30 are the same requests, all proxied.
        let urgent = scaler.record(load(30), fromReplica: false, at: ts(0), readyReplicas: 1)
        #expect(urgent)
        var other = makeScaler(readyReplicas: 1)
        let proxied = RequestStat(averageConcurrency: 30, requestCount: 30,
                                  averageProxiedConcurrency: 30, proxiedRequestCount: 30)
        let urgent2 = other.record(proxied, fromReplica: true, at: ts(0), readyReplicas: 1)
        #expect(!urgent2)
        let step = other.step(readyReplicas: 1, activatorInPath: true, now: ts(0))
        #expect(step.decision?.stable == 0)
    }

    // MARK: - Up and down

    /// Drives a target the way the daemon does: every second, each ready replica's sidecar reports
    /// its share of `concurrency`, then the target is stepped; requested replicas become ready at once.
    private struct Harness {
        var scaler: TargetScaler
        var ready: Int
        var requested: Int
        var history: [(time: Double, step: TargetScaler.Step)] = []

        mutating func second(_ t: Double, concurrency: Double) {
            for _ in 0..<ready {
                _ = scaler.record(RequestStat(averageConcurrency: concurrency / Double(ready),
                                              requestCount: concurrency / Double(ready)),
                                  fromReplica: true, at: ts(t), readyReplicas: ready)
            }
            let step = scaler.step(readyReplicas: ready, activatorInPath: true, now: ts(t))
            history.append((t, step))
            if let replicas = step.plan.replicas {
                requested = replicas
                ready = replicas
            }
        }
    }

    /// Runs 10 s of concurrency 30 (seconds 0-9), then idle seconds until the plan reaches zero;
    /// returns the harness and the second at which it did.
    private func loadThenIdle(targetBurstCapacity: Double) -> (Harness, Double?) {
        var h = Harness(scaler: makeScaler(initialScale: 1, readyReplicas: 1, targetBurstCapacity: targetBurstCapacity),
                        ready: 1, requested: 1)
        for t in 0..<10 { h.second(Double(t), concurrency: 30) }
        #expect(h.requested == 3)
        #expect(h.ready == 3)
        #expect(h.history.last?.step.decision?.desired == 3)
        #expect(h.history.last?.step.plan.want == 3)
        #expect(h.history.last?.step.plan.activity == .active)
        #expect(h.history.compactMap { $0.step.plan.replicas }.allSatisfy { $0 <= 3 }, "never over-scaled")
        for t in 10..<40 {
            h.second(Double(t), concurrency: 0)
            if h.requested == 0 { return (h, Double(t)) }
        }
        return (h, nil)
    }

    @Test("steady load scales to target; a whole idle stable window takes it to zero (activator always in the path)")
    func steadyLoadThenIdle() throws {
        let (h, reachedZero) = loadThenIdle(targetBurstCapacity: 211)
        let zeroAt = try #require(reachedZero, "the target never scaled to zero")
        let lastLoad = 9.0
        #expect(h.history.allSatisfy { !$0.step.holding }, "zero-valued reports are data, not missing data")
        // The activator has been in the path all along (negative excess burst capacity), so the
        // grace period is already served once the stable window has drained.
        #expect(zeroAt >= lastLoad + 6, "a whole stable window without load must pass first")
        // Idle from 10: the stable window is all zeros at 15 (marked inactive), and zero is applied at 16.
        #expect(zeroAt == 16)
        #expect(h.history.last?.step.plan.activity == .inactive(.noTraffic))
        #expect(h.history.last?.step.plan.want == 0)
        #expect(h.history.last?.step.plan.activatorMode == .proxy)
    }

    @Test("with the activator out of the path, scale to zero also waits the grace period")
    func steadyLoadThenIdleWaitsGracePeriod() throws {
        let (h, reachedZero) = loadThenIdle(targetBurstCapacity: 0)
        let zeroAt = try #require(reachedZero, "the target never scaled to zero")
        let lastLoad = 9.0
        #expect(h.history.allSatisfy { !$0.step.holding })
        // While serving with load, the activator is out of the path.
        #expect(h.history.first { $0.time == lastLoad }?.step.plan.activatorMode == .serve)
        #expect(zeroAt >= lastLoad + 6 + 2, "a whole stable window and then the grace period must pass first")
        // Marked inactive at 15, the activator enters the path then, and the 2 s grace period ends at 17.
        #expect(zeroAt == 17)
        #expect(h.history.contains { $0.step.plan.reason == "waiting out the grace period" })
        #expect(h.history.last?.step.plan.activity == .inactive(.noTraffic))
    }

    @Test("steady load stepped every two seconds also settles at the target")
    func steadyLoadSteppedEveryTwoSeconds() {
        var scaler = makeScaler(initialScale: 1, readyReplicas: 1)
        var ready = 1
        for t in 0..<12 {
            for _ in 0..<ready {
                _ = scaler.record(load(30 / Double(ready)), fromReplica: true, at: ts(Double(t)), readyReplicas: ready)
            }
            if t % 2 == 1 {
                let step = scaler.step(readyReplicas: ready, activatorInPath: true, now: ts(Double(t)))
                if let replicas = step.plan.replicas { ready = replicas }
            }
        }
        #expect(ready == 3)
        #expect(scaler.latest?.desired == 3)
    }

    @Test("while load lasts the target is never scaled to zero")
    func noScaleToZeroUnderLoad() {
        var h = Harness(scaler: makeScaler(initialScale: 1, readyReplicas: 1), ready: 1, requested: 1)
        for t in 0..<30 { h.second(Double(t), concurrency: 5) }
        #expect(h.requested == 1)
        #expect(h.history.compactMap { $0.step.plan.replicas }.allSatisfy { $0 == 1 })
    }

    // MARK: - Missing data

    @Test("ready replicas silent for longer than staleAfter hold the scale; reports resuming end the hold")
    func holdsWhenReplicasStopReporting() {
        var scaler = makeScaler(readyReplicas: 2)
        for t in 0...5 {
            _ = scaler.record(load(10), fromReplica: true, at: ts(Double(t)), readyReplicas: 2)
            let step = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t)))
            #expect(!step.holding)
        }
        #expect(scaler.lastReplicaReport == ts(5))
        // Last report at 5: silent for exactly staleAfter (4 s) at 9 is not yet missing data.
        for t in 6...9 {
            let holding = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t))).holding
            #expect(!holding)
        }
        let held = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(10))
        #expect(held.holding)
        #expect(held.plan.replicas == nil)
        #expect(held.decision == nil)
        #expect(held.plan.reason.contains("holding"))
        let stillHeld = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(20))
        #expect(stillHeld.holding)
        #expect(stillHeld.plan.replicas == nil)

        _ = scaler.record(load(10), fromReplica: true, at: ts(21), readyReplicas: 2)
        let resumed = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(21))
        #expect(!resumed.holding)
        #expect(resumed.decision != nil)
    }

    @Test("the hold keeps the last want")
    func holdKeepsLastWant() {
        var scaler = makeScaler(initialScale: 1, readyReplicas: 1)
        for t in 0...3 {
            _ = scaler.record(load(20), fromReplica: true, at: ts(Double(t)), readyReplicas: 2)
            _ = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t)))
        }
        let before = scaler.planner.lastWant
        #expect(before == 2)
        let held = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(10))
        #expect(held.holding)
        #expect(held.plan.want == before)
        #expect(held.plan.replicas == nil)
    }

    @Test("activator reports are not replica data: ready replicas that never report hold the scale")
    func activatorReportsDoNotCountAsReplicaData() {
        var scaler = makeScaler(readyReplicas: 2)
        var last: TargetScaler.Step?
        for t in 0...6 {
            _ = scaler.record(load(10), fromReplica: false, at: ts(Double(t)), readyReplicas: 2)
            last = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t)))
        }
        #expect(scaler.lastReplicaReport == nil)
        #expect(last?.holding == true)
        #expect(last?.plan.replicas == nil)
    }

    @Test("the hold waits staleAfter from when replicas became ready")
    func noHoldRightAfterReplicasBecomeReady() {
        var scaler = makeScaler()
        for t in 0..<10 {
            let holding = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(Double(t))).holding
            #expect(!holding)
        }
        // Two replicas ready from 10, reporting nothing yet.
        for t in 10...14 {
            let holding2 = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t))).holding
            #expect(!holding2)
        }
        let holding3 = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(15)).holding
        #expect(holding3)
    }

    @Test("reports from before the replicas went away do not make new replicas look silent")
    func oldReportsDoNotCountAgainstNewReplicas() {
        var scaler = makeScaler(initialScale: 1, readyReplicas: 1)
        for t in 0...3 {
            _ = scaler.record(load(1), fromReplica: true, at: ts(Double(t)), readyReplicas: 1)
            _ = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(Double(t)))
        }
        for t in 4..<20 { _ = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(Double(t))) }
        let holding = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(20)).holding
        #expect(!holding)
        let holding2 = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(24)).holding
        #expect(!holding2)
        let holding3 = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(25)).holding
        #expect(holding3)
    }

    @Test("with no ready replica there is nothing to hold, however long the silence")
    func noHoldWithoutReadyReplicas() {
        var scaler = makeScaler(initialScale: 1, readyReplicas: 1)
        _ = scaler.record(load(1), fromReplica: true, at: ts(0), readyReplicas: 1)
        _ = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(0))
        let holding = scaler.step(readyReplicas: 0, activatorInPath: true, now: ts(30)).holding
        #expect(!holding)
    }

    @Test("a custom staleAfter is honoured")
    func customStaleAfter() {
        var scaler = TargetScaler(spec: Self.spec(), replicas: Self.policy(), readyReplicas: 1, now: ts(0),
                                  staleAfter: .seconds(10))
        _ = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(0))
        let holding = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(10)).holding
        #expect(!holding)
        let holding2 = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(11)).holding
        #expect(holding2)
    }

    // MARK: - What changed

    @Test("a step says when a hold starts and when it ends, once each")
    func stepsSayWhenAHoldStartsAndEnds() {
        var scaler = makeScaler(readyReplicas: 2)
        for t in 0...5 {
            _ = scaler.record(load(10), fromReplica: true, at: ts(Double(t)), readyReplicas: 2)
            let change = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(Double(t))).holdChange
            #expect(change == nil, "t=\(t): reporting replicas are not held")
        }
        let started = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(10))
        #expect(started.holding)
        #expect(started.holdChange == .started)
        let stillHeld = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(12))
        #expect(stillHeld.holding)
        #expect(stillHeld.holdChange == nil, "the hold started once")

        _ = scaler.record(load(10), fromReplica: true, at: ts(13), readyReplicas: 2)
        let ended = scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(13))
        #expect(!ended.holding)
        #expect(ended.holdChange == .ended)
        _ = scaler.record(load(10), fromReplica: true, at: ts(14), readyReplicas: 2)
        #expect(scaler.step(readyReplicas: 2, activatorInPath: true, now: ts(14)).holdChange == nil)
    }

    @Test("failures say how many in a row, the one that reaches the threshold starts the fallback once, and a value recovers")
    func failuresSayWhenTheFallbackStartsAndAValueRecovers() {
        let (_, gpu, replicas) = GPUSignalTests.specs()
        var scaler = TargetScaler(spec: gpu, replicas: replicas, fallback: SignalFallback(replicas: 5, afterFailures: 2),
                                  readyReplicas: 2, now: ts(0))
        #expect(scaler.record(100, for: .gpu, at: ts(0)).isEmpty, "a value for a healthy signal changes nothing")

        #expect(scaler.recordFailure(for: .gpu, reason: "source down", readyReplicas: 2)
                == [.failed(.gpu, reason: "source down", inARow: 1)])
        #expect(scaler.recordFailure(for: .gpu, reason: "source down", readyReplicas: 2)
                == [.failed(.gpu, reason: "source down", inARow: 2), .fallbackStarted(.gpu, replicas: 5)])
        #expect(scaler.recordFailure(for: .gpu, readyReplicas: 2)
                == [.failed(.gpu, reason: "the collector could not read it", inARow: 3)], "the fallback started once")

        #expect(scaler.record(100, for: .gpu, at: ts(1)) == [.recovered(.gpu)])
        #expect(scaler.record(100, for: .gpu, at: ts(2)).isEmpty, "recovered once")
        #expect(scaler.recordFailure(for: .gpu, reason: "source down", readyReplicas: 2)
                == [.failed(.gpu, reason: "source down", inARow: 1)], "a value starts the count again")
    }

    @Test("an empty answer for a target at zero changes nothing")
    func emptyAnswerAtZeroChangesNothing() {
        let (_, gpu, replicas) = GPUSignalTests.specs()
        var scaler = TargetScaler(spec: gpu, replicas: replicas, fallback: SignalFallback(replicas: 5, afterFailures: 1),
                                  readyReplicas: 0, now: ts(0))
        #expect(scaler.recordFailure(for: .gpu, reason: "no series", empty: true, readyReplicas: 0).isEmpty)
        #expect(scaler.record(100, for: .gpu, at: ts(1)).isEmpty, "nothing was failing")
    }
}
