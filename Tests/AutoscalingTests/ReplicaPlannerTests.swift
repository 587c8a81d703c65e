import Testing
import Autoscaling

/// From desired to replicas: Knative's KPA reconciler (`scaler.go` `scale` and `handleScaleToZero`,
/// `kpa.go` SKS mode and `computeActiveCondition`).
///
/// Policy defaults unless a test says otherwise: min 1, max 0 (unbounded), initial scale 1,
/// scale to zero enabled, stable window 60 s, grace period 30 s, no pod retention,
/// activation timeout 630 s (600 s progress deadline + 30 s), reachable.
@Suite("ReplicaPlanner")
struct ReplicaPlannerTests {
    private func planner(_ policy: ReplicaPolicy = ReplicaPolicy(), at start: Double = 0) -> ReplicaPlanner {
        ReplicaPlanner(policy: policy, now: ts(start))
    }

    /// A target with min 0 that became active at second 0 with one ready replica. With `serve`
    /// the first decision had burst capacity, so the activator left the path; otherwise it stayed
    /// in the path since the planner was created at second 0.
    private func activeScaleToZeroTarget(_ policy: ReplicaPolicy = ReplicaPolicy(minScale: 0),
                                         serve: Bool = false) throws -> ReplicaPlanner {
        var p = planner(policy)
        let first = p.plan(desired: 1, excessBurstCapacity: serve ? 0 : -111, readyReplicas: 1,
                           activatorInPath: !serve, now: ts(0))
        try #require(first.activity == .active)
        try #require(first.activatorMode == (serve ? .serve : .proxy))
        return p
    }

    /// `activeScaleToZeroTarget` after a decision of 0 at second 60: inactive since second 60.
    private func inactiveTarget(_ policy: ReplicaPolicy = ReplicaPolicy(minScale: 0),
                                serve: Bool = false) throws -> ReplicaPlanner {
        var p = try activeScaleToZeroTarget(policy, serve: serve)
        let idle = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: false, now: ts(60))
        try #require(idle.activity == .inactive(.noTraffic))
        try #require(idle.replicas == nil)
        return p
    }

    // MARK: - Bounds

    @Test("clamp: below min gives min, above a non-zero max gives max, max 0 is unbounded", arguments: [
        (5, 1, 0, 5),
        (0, 1, 0, 1),
        (15, 1, 10, 10),
        (10, 1, 10, 10),
        (-1, 0, 0, 0),
        (-1, 2, 5, 2),
        (7, 0, 5, 5),
        (1000, 0, 0, 1000),
        (3, 3, 3, 3),
    ] as [(Int, Int, Int, Int)])
    func clamp(count: Int, lower: Int, upper: Int, expected: Int) {
        #expect(ReplicaPolicy.clamp(count, min: lower, max: upper) == expected)
    }

    @Test("the planner applies min and max", arguments: [
        (1, 2),
        (3, 3),
        (9, 5),
    ] as [(Int, Int)])
    func minAndMax(desired: Int, expected: Int) {
        var p = planner(ReplicaPolicy(minScale: 2, maxScale: 5))
        let plan = p.plan(desired: desired, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(plan.replicas == expected)
        #expect(plan.want == expected)
    }

    @Test("max 0 means no upper bound")
    func unboundedMax() {
        var p = planner(ReplicaPolicy(maxScale: 0))
        #expect(p.plan(desired: 500, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0)).replicas == 500)
    }

    @Test("an unreachable target has a lower bound of 0")
    func unreachableForcesMinZero() {
        let policy = ReplicaPolicy(minScale: 2, reachable: false)
        #expect(policy.effectiveMinScale == 0)
        #expect(ReplicaPolicy(minScale: 2).effectiveMinScale == 2)
        var p = planner(policy)
        let plan = p.plan(desired: 1, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(plan.replicas == 1)
    }

    // MARK: - Initial scale

    @Test("the initial scale is a floor until that many replicas were ready once")
    func initialScaleFloor() {
        var p = planner(ReplicaPolicy(minScale: 1, initialScale: 3))
        #expect(p.initialReplicas == 3)
        #expect(!p.initialized)

        let cold = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(cold.replicas == 3)
        #expect(cold.activity == .activating)

        let partial = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 2, activatorInPath: true, now: ts(2))
        #expect(partial.replicas == 3)
        #expect(partial.activity == .activating)      // 2 < max(min 1, initial 3)
        #expect(!p.initialized)

        let reached = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 3, activatorInPath: true, now: ts(4))
        #expect(reached.replicas == 3)                 // bounded before the ready count is looked at
        #expect(reached.activity == .active)
        #expect(p.initialized)

        let after = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 3, activatorInPath: true, now: ts(6))
        #expect(after.replicas == 1)
        #expect(after.activity == .active)             // threshold is now max(min, 1) = 1
    }

    @Test("a min scale above the initial scale wins")
    func minAboveInitialScale() {
        var p = planner(ReplicaPolicy(minScale: 4, initialScale: 3))
        #expect(p.plan(desired: 1, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0)).replicas == 4)
    }

    @Test("the initial scale is ignored for an unreachable target")
    func initialScaleIgnoredWhenUnreachable() {
        var p = planner(ReplicaPolicy(minScale: 1, initialScale: 5, reachable: false))
        #expect(p.plan(desired: 2, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0)).replicas == 2)
    }

    // MARK: - Unknown desired

    @Test("an activating target without a decision gets its lower bound")
    func activatingWithoutDecision() {
        var p = planner()
        let plan = p.plan(desired: nil, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(plan.replicas == 1)
        #expect(plan.want == 1)
        #expect(plan.activity == .activating)
        #expect(plan.activatorMode == .proxy)
    }

    @Test("a target past activating without a decision is left alone and keeps its last want")
    func noMetricsYet() {
        var p = planner()
        let first = p.plan(desired: 2, excessBurstCapacity: -11, readyReplicas: 2, activatorInPath: true, now: ts(0))
        #expect(first.activity == .active)
        #expect(p.lastWant == 2)

        let unknown = p.plan(desired: nil, excessBurstCapacity: -11, readyReplicas: 2, activatorInPath: true, now: ts(2))
        #expect(unknown.replicas == nil)
        #expect(unknown.want == -1)
        #expect(unknown.activatorMode == .proxy)
        #expect(unknown.activity == .active)
        #expect(p.lastWant == 2)
    }

    // MARK: - Scale to zero disabled

    @Test("with scale to zero disabled a desired 0 becomes 1")
    func scaleToZeroDisabled() {
        var p = planner(ReplicaPolicy(minScale: 0, enableScaleToZero: false))
        let plan = p.plan(desired: 0, excessBurstCapacity: 0, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(plan.replicas == 1)
        #expect(plan.want == 1)
        #expect(plan.activity == .activating)
        let later = p.plan(desired: 0, excessBurstCapacity: 0, readyReplicas: 1, activatorInPath: true, now: ts(1000))
        #expect(later.replicas == 1)
        #expect(later.activity == .active)
    }

    // MARK: - Activating

    @Test("activating with desired 0 keeps the current scale until the activation timeout, then gives up")
    func activationTimeout() {
        var p = planner(ReplicaPolicy(minScale: 0))
        let waiting = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(waiting.replicas == nil)
        #expect(waiting.want == -1)
        #expect(waiting.recheckAfter == .seconds(630))
        #expect(waiting.activity == .activating)
        #expect(waiting.activatorMode == .proxy)

        // An unknown decision while activating with min 0 is bounded to 0 and waits the same way.
        let unknown = p.plan(desired: nil, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(10))
        #expect(unknown.replicas == nil)
        #expect(unknown.activity == .activating)

        // Timed out only when activating for longer than the timeout.
        let edge = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(630))
        #expect(edge.replicas == nil)
        #expect(edge.activity == .activating)

        let timedOut = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(630.5))
        #expect(timedOut.replicas == 0)
        #expect(timedOut.want == 0)
        #expect(timedOut.activity == .inactive(.activationTimedOut))
        #expect(p.activitySince == ts(630.5))
    }

    @Test("past the activation timeout, requests still waiting keep one replica asked for; without them it goes to zero")
    func waitingRequestsKeepOneReplica() {
        var p = planner(ReplicaPolicy(minScale: 0, activationTimeout: .seconds(60)))
        let held = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, waitingRequests: 3, now: ts(61))
        #expect(held.replicas == 1 && held.want == 1)
        #expect(held.reason == "3 request(s) waiting: not scaling to zero")
        var alone = planner(ReplicaPolicy(minScale: 0, activationTimeout: .seconds(60)))
        let gone = alone.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(61))
        #expect(gone.replicas == 0, "the same plan with nothing waiting")
        let later = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, waitingRequests: 0, now: ts(62))
        #expect(later.replicas == 0, "once nothing waits, the timeout applies")
    }

    @Test("the activation timeout is configurable")
    func customActivationTimeout() {
        var p = planner(ReplicaPolicy(minScale: 0, activationTimeout: .seconds(60)))
        #expect(p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(59)).recheckAfter == .seconds(60))
        let plan = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(61))
        #expect(plan.replicas == 0)
        #expect(plan.activity == .inactive(.activationTimedOut))
    }

    // MARK: - Active

    @Test("active for less than a stable window: keep 1 and recheck when the window is over")
    func activeShorterThanStableWindow() throws {
        var p = try activeScaleToZeroTarget()
        #expect(p.activitySince == ts(0))

        let early = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 1, activatorInPath: true, now: ts(20))
        #expect(early.replicas == 1)
        #expect(early.want == 1)
        #expect(early.recheckAfter == .seconds(40))
        #expect(early.activity == .active)

        let late = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 1, activatorInPath: true, now: ts(59.5))
        #expect(late.replicas == 1)
        #expect(late.recheckAfter == .milliseconds(500))
    }

    @Test("active for a stable window: marked inactive without changing the scale; recheck in 3 s in proxy mode")
    func activeForStableWindowInProxyMode() throws {
        var p = try activeScaleToZeroTarget()
        let plan = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 1, activatorInPath: true, now: ts(60))
        #expect(plan.replicas == nil)
        #expect(plan.want == 0)
        #expect(plan.recheckAfter == .seconds(3))
        #expect(plan.activity == .inactive(.noTraffic))
        #expect(plan.activatorMode == .proxy)
        #expect(p.activitySince == ts(60))
    }

    @Test("marked inactive from serve mode: no 3 s recheck, and the activator enters the path now")
    func activeForStableWindowInServeMode() throws {
        var p = try activeScaleToZeroTarget(serve: true)
        #expect(p.activatorInPathSince == nil)
        let plan = p.plan(desired: 0, excessBurstCapacity: 0, readyReplicas: 1, activatorInPath: false, now: ts(60))
        #expect(plan.replicas == nil)
        #expect(plan.recheckAfter == nil)
        #expect(plan.activity == .inactive(.noTraffic))
        #expect(plan.activatorMode == .proxy)          // want 0: proxy whatever the EBC
        #expect(p.activatorInPathSince == ts(60))
    }

    @Test("the stable window counts from becoming active, not from the last traffic")
    func activeForLongBeforeIdle() throws {
        var p = try activeScaleToZeroTarget()
        _ = p.plan(desired: 3, excessBurstCapacity: -11, readyReplicas: 3, activatorInPath: true, now: ts(100))
        let idle = p.plan(desired: 0, excessBurstCapacity: -11, readyReplicas: 3, activatorInPath: true, now: ts(102))
        #expect(idle.replicas == nil)
        #expect(idle.activity == .inactive(.noTraffic))
    }

    // MARK: - Inactive

    @Test("inactive: nothing happens until the activator is confirmed in the path")
    func waitsForActivator() throws {
        var p = try inactiveTarget()
        let plan = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: false, now: ts(61))
        #expect(plan.replicas == nil)
        #expect(plan.want == 0)
        #expect(plan.recheckAfter == .seconds(1))
        #expect(plan.activity == .inactive(.noTraffic))
        #expect(p.activitySince == ts(60))
    }

    @Test("with TBC -1 the activator is always in the path and needs no confirmation")
    func activatorAlwaysInPath() throws {
        var p = try inactiveTarget(ReplicaPolicy(minScale: 0, activatorAlwaysInPath: true))
        let plan = p.plan(desired: 0, excessBurstCapacity: -1, readyReplicas: 1, activatorInPath: false, now: ts(61))
        #expect(plan.replicas == 0)
    }

    @Test("fast path: the activator was in the path for the grace period already, so zero at once")
    func fastPath() throws {
        var p = try inactiveTarget()        // activator in the path since second 0
        let plan = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(61))
        #expect(plan.replicas == 0)
        #expect(plan.want == 0)
        #expect(plan.recheckAfter == nil)
        #expect(plan.activity == .inactive(.noTraffic))
    }

    @Test("grace period: the activator just entered the path, so wait until inactive for the grace period")
    func gracePeriod() throws {
        var p = try inactiveTarget(serve: true)     // activator in the path since second 60
        let early = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(70))
        #expect(early.replicas == nil)
        #expect(early.recheckAfter == .seconds(20))      // 30 - 10 in the path
        let almost = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(89.5))
        #expect(almost.replicas == nil)
        #expect(almost.recheckAfter == .milliseconds(500))
        let done = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(90))
        #expect(done.replicas == 0)
    }

    @Test("the proxy-mode clock can finish before the inactive clock")
    func proxyClockFinishesFirst() throws {
        // Serve at 0, proxy from 40 (EBC turned negative), idle at 60.
        var p = try activeScaleToZeroTarget(serve: true)
        _ = p.plan(desired: 1, excessBurstCapacity: -5, readyReplicas: 1, activatorInPath: true, now: ts(40))
        #expect(p.activatorInPathSince == ts(40))
        let idle = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(60))
        #expect(idle.activity == .inactive(.noTraffic))
        #expect(idle.recheckAfter == .seconds(3))

        let wait = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(69))
        #expect(wait.replicas == nil)
        #expect(wait.recheckAfter == .seconds(1))        // 30 - 29 in the path
        // Inactive for only 10 s, but in the path for exactly the grace period.
        let zero = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(70))
        #expect(zero.replicas == 0)
    }

    @Test("pod retention longer than the grace period: keep the last replica until inactive for max(grace, retention)")
    func podRetention() throws {
        var p = try inactiveTarget(ReplicaPolicy(minScale: 0, scaleToZeroPodRetention: .seconds(90)))
        // In the path for 100 s, but inactive for only 40 s.
        let kept = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(100))
        #expect(kept.replicas == nil)
        #expect(kept.recheckAfter == .seconds(50))
        let gone = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(150))
        #expect(gone.replicas == 0)
    }

    @Test("pod retention shorter than the grace period only holds for the retention")
    func shortPodRetention() throws {
        var p = try inactiveTarget(ReplicaPolicy(minScale: 0, scaleToZeroPodRetention: .seconds(10)))
        let kept = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(65))
        #expect(kept.replicas == nil)
        #expect(kept.recheckAfter == .seconds(5))
        // Inactive 11 s: retention over, grace not, but the activator has been in the path for 71 s.
        let gone = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(71))
        #expect(gone.replicas == 0)
    }

    @Test("an unreachable target ignores the pod retention")
    func unreachableIgnoresRetention() throws {
        var p = try inactiveTarget(ReplicaPolicy(minScale: 0, scaleToZeroPodRetention: .seconds(90), reachable: false))
        let plan = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(61))
        #expect(plan.replicas == 0)
    }

    @Test("a custom grace period is honoured")
    func customGracePeriod() throws {
        var p = try inactiveTarget(ReplicaPolicy(minScale: 0, scaleToZeroGracePeriod: .seconds(120)), serve: true)
        // Inactive and in the path since 60: wait the rest of 120 s.
        let plan = p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(100))
        #expect(plan.replicas == nil)
        #expect(plan.recheckAfter == .seconds(80))
        #expect(p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(180)).replicas == 0)
    }

    // MARK: - Activator mode

    @Test("serve iff want > 0 and EBC >= 0", arguments: [
        (3, 0, ActivatorMode.serve),
        (3, 1, .serve),
        (3, 500, .serve),
        (3, -1, .proxy),
        (1, -111, .proxy),
        (0, 10, .serve),        // bounded up to min 1
    ] as [(Int, Int, ActivatorMode)])
    func activatorMode(desired: Int, ebc: Int, expected: ActivatorMode) {
        var p = planner()
        let plan = p.plan(desired: desired, excessBurstCapacity: ebc, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(plan.activatorMode == expected)
    }

    @Test("want 0 and unknown want are proxy whatever the EBC")
    func proxyWithoutPositiveWant() throws {
        var p = try inactiveTarget()
        #expect(p.plan(desired: 0, excessBurstCapacity: 1000, readyReplicas: 1, activatorInPath: false, now: ts(61)).activatorMode == .proxy)
        #expect(p.plan(desired: nil, excessBurstCapacity: 1000, readyReplicas: 1, activatorInPath: false, now: ts(62)).activatorMode == .proxy)
    }

    @Test("the time the activator entered the path is kept while it stays and cleared when it leaves")
    func activatorInPathSince() {
        var p = planner(at: 0)
        #expect(p.activatorInPathSince == ts(0))         // a new target starts behind the activator
        _ = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(5))
        #expect(p.activatorInPathSince == ts(0))
        _ = p.plan(desired: 3, excessBurstCapacity: 0, readyReplicas: 3, activatorInPath: true, now: ts(10))
        #expect(p.activatorInPathSince == nil)
        _ = p.plan(desired: 3, excessBurstCapacity: -1, readyReplicas: 3, activatorInPath: true, now: ts(12))
        #expect(p.activatorInPathSince == ts(12))
    }

    // MARK: - Active condition

    @Test("active condition: want > 0 with fewer ready than needed is activating, enough ready is active")
    func activatingThenActive() {
        var p = planner()
        #expect(p.activity == .activating)
        let queued = p.plan(desired: 2, excessBurstCapacity: -11, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(queued.activity == .activating)
        let ready = p.plan(desired: 2, excessBurstCapacity: -11, readyReplicas: 1, activatorInPath: true, now: ts(3))
        #expect(ready.activity == .active)                // min 1 ready is enough
        #expect(p.activitySince == ts(3))
    }

    @Test("scale from zero: an inactive target wanting replicas is activating until they are ready")
    func scaleFromZero() throws {
        var p = try inactiveTarget()
        #expect(p.plan(desired: 0, excessBurstCapacity: -211, readyReplicas: 0, activatorInPath: true, now: ts(61)).replicas == 0)

        let poke = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(200))
        #expect(poke.replicas == 1)
        #expect(poke.activity == .activating)
        #expect(p.activitySince == ts(200))
        let up = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 1, activatorInPath: true, now: ts(205))
        #expect(up.activity == .active)
        #expect(p.activitySince == ts(205))
    }

    @Test("an inactive target without a decision stays inactive, with or without ready replicas")
    func inactiveStaysInactiveWithoutDecision() throws {
        var p = try inactiveTarget()
        let stillReady = p.plan(desired: nil, excessBurstCapacity: -211, readyReplicas: 1, activatorInPath: true, now: ts(61))
        #expect(stillReady.activity == .inactive(.noTraffic))
        #expect(stillReady.replicas == nil)
        let none = p.plan(desired: nil, excessBurstCapacity: -211, readyReplicas: 0, activatorInPath: true, now: ts(62))
        #expect(none.activity == .inactive(.noTraffic))
        #expect(p.activitySince == ts(60))
    }

    @Test("an active target losing its replicas without a decision becomes activating")
    func activeLosingReplicas() {
        var p = planner()
        _ = p.plan(desired: 2, excessBurstCapacity: -11, readyReplicas: 2, activatorInPath: true, now: ts(0))
        let lost = p.plan(desired: nil, excessBurstCapacity: -11, readyReplicas: 0, activatorInPath: true, now: ts(2))
        #expect(lost.activity == .activating)
    }

    @Test("with initial scale 0 and min 0 a new target is inactive at once")
    func initialScaleZero() {
        var p = planner(ReplicaPolicy(minScale: 0, initialScale: 0))
        #expect(p.initialReplicas == 0)
        let first = p.plan(desired: nil, excessBurstCapacity: -211, readyReplicas: 0, activatorInPath: true, now: ts(0))
        #expect(first.replicas == nil)
        #expect(first.activity == .inactive(.noTraffic))
        #expect(p.initialized)
        // Still no decision: the threshold is now 1, no replicas, still inactive.
        let second = p.plan(desired: nil, excessBurstCapacity: -211, readyReplicas: 0, activatorInPath: true, now: ts(2))
        #expect(second.activity == .inactive(.noTraffic))
        // First traffic.
        let poke = p.plan(desired: 1, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(4))
        #expect(poke.replicas == 1)
        #expect(poke.activity == .activating)
    }

    @Test("a change of inactive reason restarts the inactive clock")
    func inactiveReasonChange() {
        var p = planner(ReplicaPolicy(minScale: 0, activationTimeout: .seconds(60)))
        #expect(p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(61)).activity
                == .inactive(.activationTimedOut))
        let next = p.plan(desired: 0, excessBurstCapacity: -111, readyReplicas: 0, activatorInPath: true, now: ts(63))
        #expect(next.activity == .inactive(.noTraffic))
        #expect(p.activitySince == ts(63))
    }

    @Test("activity descriptions")
    func activityDescriptions() {
        #expect(TargetActivity.activating.description == "activating")
        #expect(TargetActivity.active.description == "active")
        #expect(TargetActivity.inactive(.noTraffic).description == "inactive (no traffic)")
        #expect(TargetActivity.inactive(.activationTimedOut).description == "inactive (activation timed out)")
    }
}
