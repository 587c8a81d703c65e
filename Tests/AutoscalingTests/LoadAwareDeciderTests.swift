import Testing
@testable import Autoscaling

@Suite struct LoadTimeEstimateTests {
    @Test func startsAreTimedFromTheAskToReadiness() {
        var estimate = LoadTimeEstimate(configured: .seconds(20))
        #expect(estimate.current == .seconds(20))
        #expect(estimate.source.contains("load-time"))
        estimate.asked(2, at: ts(0))
        estimate.becameReady(2, at: ts(31))
        #expect(estimate.current == .seconds(31))
        #expect(estimate.measuredStarts == 1)
        estimate.asked(1, at: ts(100))
        estimate.becameReady(1, at: ts(133))
        estimate.asked(1, at: ts(200))
        estimate.becameReady(1, at: ts(210))
        // The median of 31, 33 and 10: one fast (cached) start does not move it.
        #expect(estimate.current == .seconds(31))
    }

    @Test func readinessNobodyAskedForTeachesNothingAndCancelledStartsAreForgotten() {
        var estimate = LoadTimeEstimate(configured: nil)
        #expect(estimate.current == LoadTimeEstimate.fallback)
        estimate.becameReady(3, at: ts(5))
        #expect(estimate.measuredStarts == 0)
        estimate.asked(1, at: ts(0))
        estimate.asked(2, at: ts(10))
        estimate.cancelled(2)
        estimate.becameReady(3, at: ts(40))
        #expect(estimate.measuredStarts == 1)
        #expect(estimate.current == .seconds(40))
    }

    @Test func pendingStartsAreBounded() {
        var estimate = LoadTimeEstimate(configured: nil)
        estimate.asked(LoadTimeEstimate.pendingLimit + 500, at: ts(0))
        estimate.becameReady(LoadTimeEstimate.pendingLimit + 500, at: ts(7))
        #expect(estimate.current == .seconds(7))
    }
}

@Suite struct WarmWindowTests {
    @Test func fewGapsFallBackToSkiRentalOnTheLoadTimeCountedTwice() {
        let window = WarmWindow.best(gaps: [100, 200], loadTime: 10, coldStartCost: 1000)
        #expect(window == WarmWindow(keepFor: 20))
        let cheap = WarmWindow.best(gaps: [], loadTime: 10, coldStartCost: 15)
        #expect(cheap.keepFor == 15)
    }

    @Test func regularGapsArePreWarmedInsteadOfKeptWarm() throws {
        // A level needed again every 300 s (±5 s), a 30 s load, waiting priced high: keeping it
        // warm for 300 s costs 300 a gap, loading it just in time costs about 35.
        let gaps: [Double] = [295, 300, 305, 298, 302, 297, 303, 300]
        let window = WarmWindow.best(gaps: gaps, loadTime: 30, coldStartCost: 3000)
        let prewarm = try #require(window.prewarm)
        #expect(window.keepFor < 295)
        #expect(prewarm.lowerBound + 30 <= 295)
        #expect(prewarm.upperBound >= 305)
        #expect(window.learnedFrom == gaps.count)
        for gap in gaps { #expect(window.wantsReplica(idleFor: gap)) }
        #expect(!window.wantsReplica(idleFor: 200))
    }

    @Test func shortGapsAreKeptWarmAndLongOnesReleased() {
        let short = WarmWindow.best(gaps: [20, 25, 30, 22, 28, 26], loadTime: 30, coldStartCost: 300)
        #expect(short.keepFor >= 30)
        #expect(short.prewarm == nil)
        let long = WarmWindow.best(gaps: [2000, 5000, 900, 7000, 3000, 4000], loadTime: 5, coldStartCost: 10)
        #expect(long.keepFor == 0)
        #expect(long.prewarm == nil)
    }

    @Test func coldStartsOfSlowLoadsCostQuadratically() {
        #expect(WarmWindow.coldStartCost(loadTime: 10, slots: 7) == 10 + 350)
        #expect(WarmWindow.coldStartCost(loadTime: 30, slots: 7) > 9 * WarmWindow.coldStartCost(loadTime: 10, slots: 7) - 300)
    }
}

@Suite struct LevelHistoryTests {
    @Test func gapsAndBusyPeriodsAreRecordedAndBounded() {
        var level = LevelHistory(coldStartCost: 100, loadTime: 10)
        var t = 0.0
        for _ in 0..<40 {
            for second in stride(from: 0.0, to: 6, by: 2) {
                level.observe(needed: true, at: ts(t + second), minimumGap: 2.5, loadTime: 10, coldStartCost: 100)
            }
            for second in stride(from: 6.0, to: 60, by: 2) {
                level.observe(needed: false, at: ts(t + second), minimumGap: 2.5, loadTime: 10, coldStartCost: 100)
            }
            t += 60
        }
        #expect(level.gaps.count == LevelHistory.kept)
        #expect(level.gaps.allSatisfy { $0 == 56 })
        #expect(level.busyPeriods.allSatisfy { $0 == 4 })
        #expect(level.window.learnedFrom == LevelHistory.kept)
        // A busy period that has lasted 2 s is never seen to last another 10.
        #expect(level.chanceBusy(elapsed: 2, more: 10) == 0)
    }

    @Test func aBreakShorterThanOneDecisionIsNotAGap() {
        var level = LevelHistory(coldStartCost: 100, loadTime: 10)
        level.observe(needed: true, at: ts(0), minimumGap: 2.5, loadTime: 10, coldStartCost: 100)
        level.observe(needed: true, at: ts(2), minimumGap: 2.5, loadTime: 10, coldStartCost: 100)
        #expect(level.gaps.isEmpty)
        level.observe(needed: true, at: ts(8), minimumGap: 2.5, loadTime: 10, coldStartCost: 100)
        #expect(level.gaps == [6])
    }
}

@Suite struct LoadAwareDeciderTests {
    static func spec(loadTime: Duration = .seconds(30)) -> DeciderSpec {
        DeciderSpec(targetValue: 7, totalValue: 10, policy: .thaw, loadTime: loadTime)
    }

    @Test func sizesLikeTheStableWindowAndBurstsAtTheTarget() {
        var decider = LoadAwareDecider(spec: Self.spec())
        // 35 in flight on average, 38 lately: five replicas at 7 each (the 6 s noise fits their slots).
        #expect(decider.decide(demand: 38, steady: 35, readyReplicas: 5, current: 5, now: ts(0)).desired == 5)
        // A burst from one replica: 40 in flight lately crosses the panic threshold (2x): 40 / 7.
        var burst = LoadAwareDecider(spec: Self.spec())
        let explanation = burst.decide(demand: 40, steady: 5, readyReplicas: 1, current: 1, now: ts(0))
        #expect(explanation.desired == 6)
        #expect(explanation.need == 6)
        #expect(explanation.reason.contains("need 6"))
        #expect(explanation.reason.contains("load time 30.0 s from autoscaling.thaw.dev/load-time"))
    }

    @Test func doesNotStartAReplicaThatWouldArriveAfterTheBurst() {
        var decider = LoadAwareDecider(spec: Self.spec())
        var t = 0.0
        // Bursts needing a second replica for 4 s, every 100 s, with a 30 s load: none is started
        // once the level's history shows that, and the first replica keeps serving.
        var last: LoadAwareDecider.Explanation?
        for _ in 0..<8 {
            for second in stride(from: 0.0, to: 5, by: 2) {
                last = decider.decide(demand: 14, steady: 7, readyReplicas: 1, current: 1, now: ts(t + second))
            }
            for second in stride(from: 6.0, to: 100, by: 2) {
                _ = decider.decide(demand: 5, steady: 5, readyReplicas: 1, current: 1, now: ts(t + second))
            }
            t += 100
        }
        let final = try! #require(last)
        #expect(final.skipped == 1)
        #expect(final.desired == 1)
        #expect(final.reason.contains("not started"))
    }

    @Test func preWarmsFromZeroBeforeARegularArrival() {
        var spec = Self.spec()
        spec.reachable = true
        var decider = LoadAwareDecider(spec: spec)
        // One request's worth of demand for 10 s every 300 s; a replica runs while it is needed.
        var t = 0.0
        for _ in 0..<10 {
            for second in stride(from: 0.0, to: 10, by: 2) {
                _ = decider.decide(demand: 1, steady: 1, arrivals: 1, readyReplicas: 1, current: 1, now: ts(t + second))
            }
            for second in stride(from: 10.0, to: 300, by: 2) {
                _ = decider.decide(demand: 0, steady: 0, readyReplicas: 0, current: 0, now: ts(t + second))
            }
            t += 300
        }
        // Idle for 150 s since the last need: released. Shortly before the next (300 s after the
        // last need, minus a load time): pre-warmed.
        let idle = decider.decide(demand: 0, steady: 0, readyReplicas: 0, current: 0, now: ts(t + 150))
        #expect(idle.desired == 0)
        let window = decider.levels[0].window
        let prewarm = try! #require(window.prewarm)
        let ahead = decider.decide(demand: 0, steady: 0, readyReplicas: 0, current: 0, now: ts(t - 300 + 8 + prewarm.lowerBound + 1))
        #expect(ahead.desired == 1)
        #expect(ahead.prewarmed == 1)
    }

    @Test func aBacklogIsDrainedOverOneLoadTimeNotSizedForAtOnce() {
        var decider = LoadAwareDecider(spec: DeciderSpec(targetValue: 3, totalValue: 3, policy: .thaw, loadTime: .seconds(6)))
        // Replicas keeping up: 3 in flight at 2 requests a second, so a request holds a slot 1.5 s.
        _ = decider.decide(demand: 3, steady: 3, arrivals: 2, readyReplicas: 2, current: 2, now: ts(0))
        #expect(decider.serviceTime == 1.5)
        // A cold burst: 26 held (20 of them waiting) at 4 a second. Arrivals keep 6 busy; the 20
        // waiting need 20 x 1.5 s of slots, spread over the 6 s any new replica takes: 5 more.
        // 11 at 3 a replica is 4 replicas, not the 9 that 26 would ask for.
        let cold = decider.decide(demand: 26, steady: 10, arrivals: 4, readyReplicas: 0, current: 0, now: ts(2))
        #expect(cold.desired == 4)
        #expect(decider.serviceTime == 1.5, "not learned from a backlog")
        // Without a learned service time, the demand is taken as it is.
        var fresh = LoadAwareDecider(spec: DeciderSpec(targetValue: 3, totalValue: 3, policy: .thaw, loadTime: .seconds(6)))
        #expect(fresh.decide(demand: 26, steady: 10, arrivals: 4, readyReplicas: 0, current: 0, now: ts(2)).desired == 9)
    }

    @Test func staysWithinTheRateLimitsAndTheActivationScale() {
        var spec = Self.spec()
        spec.maxScaleUpRate = 2
        spec.activationScale = 3
        var decider = LoadAwareDecider(spec: spec)
        #expect(decider.decide(demand: 700, steady: 700, readyReplicas: 2, current: 2, now: ts(0)).desired == 4)
        #expect(decider.decide(demand: 0, steady: 0, readyReplicas: 10, current: 10, now: ts(2)).desired >= 5)
        var fresh = LoadAwareDecider(spec: spec)
        #expect(fresh.decide(demand: 1, steady: 1, readyReplicas: 0, current: 0, now: ts(0)).desired == 3)
    }

    @Test func theWakeFromZeroIsPricedByWhatItsRequestsWouldWait() {
        var wake = WakeCost()
        #expect(wake.cost(loadTime: 10) == nil)
        for start in [0.0, 100, 200] {
            // Two requests a second for the first 10 s of each busy period, observed every 2 s (each
            // observation carries the rate of the 2 s before it).
            for second in stride(from: 0.0, through: 12, by: 2) {
                wake.observe(busy: second <= 10, arrivals: second <= 10 ? 2 : 0, at: start + second, loadTime: 10)
            }
            wake.observe(busy: false, arrivals: 0, at: start + 50, loadTime: 10)
        }
        // 20 requests arriving evenly over 10 s wait 100 request-seconds before the replica is ready.
        let cost = try! #require(wake.cost(loadTime: 10))
        #expect(isClose(cost, 10 + 100, tolerance: 1e-6))
    }
}

@Suite struct ThawPolicyTargetScalerTests {
    @Test func theScalerLearnsTheLoadTimeFromItsOwnStartsAndExplainsItself() throws {
        var spec = DeciderSpec(targetValue: 7, totalValue: 10, policy: .thaw, loadTime: .seconds(10))
        spec.stableWindow = .seconds(60)
        var replicas = ReplicaPolicy(minScale: 0)
        replicas.idleWindowDecided = true
        var scaler = TargetScaler(spec: spec, replicas: replicas, readyReplicas: 0, now: ts(0), adopting: 0)
        let poked = scaler.poke(queueLength: 3, readyReplicas: 0, at: ts(0))
        #expect(poked)
        let first = scaler.step(readyReplicas: 0, activatorInPath: true, waitingRequests: 3, now: ts(0))
        #expect(first.plan.replicas == 1)
        let explanation = try #require(first.explanation)
        #expect(explanation.loadTime == .seconds(10))
        #expect(first.plan.reason.contains("thaw policy"))
        // The replica is seen ready 24 s after it was asked for.
        for second in stride(from: 1.0, to: 24, by: 1) {
            _ = scaler.record(RequestStat(averageConcurrency: 3, requestCount: 1), fromReplica: false, at: ts(second), readyReplicas: 0)
        }
        _ = scaler.record(RequestStat(averageConcurrency: 3, requestCount: 1), fromReplica: true, at: ts(24), readyReplicas: 1)
        let ready = scaler.step(readyReplicas: 1, activatorInPath: true, now: ts(24))
        #expect(ready.explanation?.loadTime == .seconds(24))
        #expect(scaler.loadAware?.loadTime.measuredStarts == 1)
    }

    @Test func theKPAPolicyHasNoLoadAwareDecider() {
        let scaler = TargetScaler(spec: DeciderSpec(), replicas: ReplicaPolicy(), now: ts(0))
        #expect(scaler.loadAware == nil)
    }

    @Test func anIdleTargetUnderThawsPolicyIsMarkedInactiveAtOnce() {
        var policy = ReplicaPolicy(minScale: 0)
        policy.idleWindowDecided = true
        var planner = ReplicaPlanner(policy: policy, now: ts(0), adopting: 1)
        let plan = planner.plan(desired: 0, excessBurstCapacity: -1, readyReplicas: 1, activatorInPath: true, now: ts(5))
        #expect(plan.activity == .inactive(.noTraffic))
        var kpa = ReplicaPlanner(policy: ReplicaPolicy(minScale: 0), now: ts(0), adopting: 1)
        let held = kpa.plan(desired: 0, excessBurstCapacity: -1, readyReplicas: 1, activatorInPath: true, now: ts(5))
        #expect(held.activity == .active)
    }
}
