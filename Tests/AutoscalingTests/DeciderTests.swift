import Testing
import Autoscaling

/// The per-target decision: Knative's `autoscaler.Scale`.
///
/// Defaults unless a test says otherwise: target 70, total 100, TBC 211, panic threshold 2 (200%),
/// max scale-up rate 1000, max scale-down rate 2, stable window 60 s, no scale-down delay.
/// Deciders are created with 0 ready replicas (stable mode) unless the test is about start-in-panic.
@Suite("Decider")
struct DeciderTests {
    private func makeDecider(_ spec: DeciderSpec = DeciderSpec(), initialReady: Int = 0,
                             at start: Double = 0) -> Decider {
        Decider(spec: spec, readyReplicas: initialReady, now: ts(start))
    }

    private func averages(_ stable: Double, _ panic: Double) -> WindowAverages {
        WindowAverages(stable: stable, panic: panic)
    }

    // MARK: - Estimates

    @Test("desired = ceil(stable / target)", arguments: [
        (0.0, 70.0, 0),
        (0.0001, 70, 1),
        (69.9, 70, 1),
        (70, 70, 1),
        (70.01, 70, 2),
        (140, 70, 2),
        (141, 70, 3),
        (700, 70, 10),
        (25, 0.5, 50),
        (280, 140, 2),
    ] as [(Double, Double, Int)])
    func stableEstimate(stable: Double, target: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(targetValue: target))
        // One ready replica: max scale-down floor(1 / 2) = 0, max scale-up 1000; panic value 0.
        let decision = decider.decide(readyReplicas: 1, averages: averages(stable, 0), now: ts(0))
        #expect(decision.desired == expected)
        #expect(!decision.panicking)
        #expect(decision.stable == stable)
        #expect(decision.panic == 0)
    }

    @Test("the target sets the replica count; the total only enters the excess burst capacity")
    func targetVersusTotal() {
        var small = makeDecider(DeciderSpec(targetValue: 70, totalValue: 100))
        var large = makeDecider(DeciderSpec(targetValue: 70, totalValue: 1000))
        let a = small.decide(readyReplicas: 3, averages: averages(210, 10), now: ts(0))
        let b = large.decide(readyReplicas: 3, averages: averages(210, 10), now: ts(0))
        #expect(a.desired == 3)
        #expect(b.desired == 3)
        #expect(a.excessBurstCapacity == 79)       // 3·100 - 211 - 10
        #expect(b.excessBurstCapacity == 2779)     // 3·1000 - 211 - 10
    }

    // MARK: - Rate limits

    @Test("scale-up is capped at ceil(rate × max(1, ready))", arguments: [
        (2.0, 3, 1000.0, 6),
        (1.1, 1, 10, 2),        // ceil(1.1): at least one more replica
        (1.1, 2, 10, 3),        // ceil(2.2)
        (1.5, 3, 100, 5),       // ceil(4.5)
        (2, 0, 100, 2),         // 0 ready counts as 1
        (1000, 0, 5000, 1000),
        (1000, 1, 5000, 1000),
    ] as [(Double, Int, Double, Int)])
    func maxScaleUp(rate: Double, ready: Int, stable: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(targetValue: 1, maxScaleUpRate: rate))
        let decision = decider.decide(readyReplicas: ready, averages: averages(stable, 0), now: ts(0))
        #expect(decision.desired == expected)
    }

    @Test("scale-down is capped at floor(max(1, ready) / rate)", arguments: [
        (2.0, 10, 0.0, 5),
        (2, 5, 0, 2),           // floor(2.5)
        (2, 1, 0, 0),           // floor(0.5)
        (2, 0, 0, 0),
        (3, 10, 0, 3),          // floor(3.33)
        (1.5, 10, 70, 6),       // floor(6.67) > ceil(70 / 70)
        (2, 10, 490, 7),        // the estimate 7 is above the floor of 5
    ] as [(Double, Int, Double, Int)])
    func maxScaleDown(rate: Double, ready: Int, stable: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(maxScaleDownRate: rate))
        let decision = decider.decide(readyReplicas: ready, averages: averages(stable, 0), now: ts(0))
        #expect(decision.desired == expected)
    }

    @Test("an unreachable target has no scale-down floor", arguments: [
        (0.0, 0),
        (70, 1),
        (700, 10),
    ] as [(Double, Int)])
    func unreachableHasNoScaleDownFloor(stable: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(reachable: false))
        let decision = decider.decide(readyReplicas: 10, averages: averages(stable, 0), now: ts(0))
        #expect(decision.desired == expected)
    }

    // MARK: - Panic mode

    @Test("panic starts when ceil(panic / target) / max(1, ready) >= threshold", arguments: [
        // (ready, panic value, threshold, panicking)
        (2, 210.0, 2.0, false),    // ceil(3) / 2 = 1.5
        (2, 210.01, 2, true),      // ceil(3.0001) = 4; 4 / 2 = 2: the threshold itself panics
        (2, 280, 2, true),
        (0, 140, 2, true),         // 0 ready counts as 1: 2 / 1
        (0, 139, 2, true),         // ceil(1.99) = 2
        (0, 70, 2, false),         // 1 / 1
        (2, 419, 3, true),         // ceil(5.99) = 6; 6 / 2 = 3
        (2, 350, 3, false),        // 5 / 2 = 2.5
        (10, 1400, 2, true),       // 20 / 10
        (10, 1330, 2, false),      // 19 / 10
    ] as [(Int, Double, Double, Bool)])
    func panicThreshold(ready: Int, panic: Double, threshold: Double, panicking: Bool) {
        var decider = makeDecider(DeciderSpec(panicThreshold: threshold))
        let decision = decider.decide(readyReplicas: ready, averages: averages(0, panic), now: ts(0))
        #expect(decision.panicking == panicking)
        #expect(decider.isPanicking == panicking)
    }

    @Test("the threshold compares the unclamped panic estimate, while the count uses the clamped one")
    func panicUsesUnclampedEstimate() {
        // Scale-up rate 1 with 2 ready: at most 2 replicas. ceil(280 / 70) = 4 is clamped to 2,
        // but 4 / 2 = 2 reaches the threshold.
        var decider = makeDecider(DeciderSpec(maxScaleUpRate: 1))
        let decision = decider.decide(readyReplicas: 2, averages: averages(0, 280), now: ts(0))
        #expect(decision.panicking)
        #expect(decision.desired == 2)
    }

    @Test("in panic the larger of the stable and panic counts is used")
    func panicTakesTheLargerCount() {
        var decider = makeDecider()
        // Stable ceil(700 / 70) = 10, panic ceil(560 / 70) = 8; 8 / 2 >= 2 panics.
        let decision = decider.decide(readyReplicas: 2, averages: averages(700, 560), now: ts(0))
        #expect(decision.panicking)
        #expect(decision.desired == 10)
    }

    @Test("panic never scales down and ends only once panicStart + stable window < now")
    func panicLifecycle() {
        var decider = makeDecider()
        // Enter: stable max(ceil(1), floor(2 / 2)) = 1, panic ceil(700 / 70) = 10, 10 / 2 >= 2.
        let enter = decider.decide(readyReplicas: 2, averages: averages(70, 700), now: ts(0))
        #expect(enter.panicking)
        #expect(enter.desired == 10)

        // Demand falls: stable max(ceil(2), floor(10 / 2)) = 5, panic 5; 2 / 10 is under the
        // threshold, but the panic window is still open, so the 10 is held.
        let calm = averages(140, 140)
        let held = decider.decide(readyReplicas: 10, averages: calm, now: ts(2))
        #expect(held.panicking)
        #expect(held.desired == 10)

        // ts(0) + 60 s is not before ts(60): still panicking.
        let edge = decider.decide(readyReplicas: 10, averages: calm, now: ts(60))
        #expect(edge.panicking)
        #expect(edge.desired == 10)

        // Now it is: panic ends and the count drops to the stable count, bounded by the scale-down rate.
        let exit = decider.decide(readyReplicas: 10, averages: calm, now: ts(60.5))
        #expect(!exit.panicking)
        #expect(!decider.isPanicking)
        #expect(exit.desired == 5)
    }

    @Test("every decision over the threshold extends the panic")
    func panicExtension() {
        var decider = makeDecider()
        _ = decider.decide(readyReplicas: 2, averages: averages(70, 700), now: ts(0))
        let extended = decider.decide(readyReplicas: 2, averages: averages(70, 700), now: ts(30))
        #expect(extended.panicking)
        let calm = averages(140, 140)
        #expect(decider.decide(readyReplicas: 10, averages: calm, now: ts(60.5)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: calm, now: ts(90)).panicking)
        let exit = decider.decide(readyReplicas: 10, averages: calm, now: ts(90.5))
        #expect(!exit.panicking)
        #expect(exit.desired == 5)
    }

    @Test("while panicking a higher count raises the held maximum")
    func panicRaisesMaximum() {
        var decider = makeDecider()
        #expect(decider.decide(readyReplicas: 2, averages: averages(70, 700), now: ts(0)).desired == 10)
        // ceil(1400 / 70) = 20; 20 / 4 >= 2; scale-up cap 4000.
        #expect(decider.decide(readyReplicas: 4, averages: averages(70, 1400), now: ts(2)).desired == 20)
        #expect(decider.decide(readyReplicas: 20, averages: averages(70, 70), now: ts(4)).desired == 20)
    }

    @Test("leaving panic forgets the held maximum")
    func panicExitResetsMaximum() {
        var decider = makeDecider()
        #expect(decider.decide(readyReplicas: 2, averages: averages(70, 700), now: ts(0)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(140, 140), now: ts(61)).desired == 5)
        // Panic again with 1 ready: ceil(140 / 70) = 2, 2 / 1 >= 2. The old 10 is gone.
        let again = decider.decide(readyReplicas: 1, averages: averages(0, 140), now: ts(62))
        #expect(again.panicking)
        #expect(again.desired == 2)
    }

    @Test("a decider created with more than one ready replica starts in panic", arguments: [
        (0, false), (1, false), (2, true), (5, true),
    ] as [(Int, Bool)])
    func startInPanic(initialReady: Int, panicking: Bool) {
        let decider = makeDecider(initialReady: initialReady)
        #expect(decider.isPanicking == panicking)
    }

    @Test("starting in panic holds the initial ready count for a stable window")
    func startInPanicHoldsScale() {
        var decider = makeDecider(initialReady: 4, at: 0)
        let quiet = averages(0, 0)
        // Without the hold: max(0, floor(4 / 2)) = 2.
        #expect(decider.decide(readyReplicas: 4, averages: quiet, now: ts(2)).desired == 4)
        #expect(decider.decide(readyReplicas: 4, averages: quiet, now: ts(60)).desired == 4)
        let exit = decider.decide(readyReplicas: 4, averages: quiet, now: ts(60.5))
        #expect(!exit.panicking)
        #expect(exit.desired == 2)
    }

    @Test("a decider created with one ready replica decides from the data at once")
    func noStartInPanicWithOneReady() {
        var decider = makeDecider(initialReady: 1)
        #expect(decider.decide(readyReplicas: 1, averages: averages(0, 0), now: ts(2)).desired == 0)
    }

    // MARK: - Activation scale

    @Test("the activation scale raises a positive estimate", arguments: [
        // (activation scale, ready, stable, expected)
        (3, 0, 1.0, 3),          // ceil(1 / 70) = 1 → 3
        (3, 0, 0, 0),            // no traffic: stays 0
        (3, 10, 700, 10),        // already above
        (1, 0, 1, 1),            // 1 does nothing
        (0, 0, 1, 1),
        (8, 10, 0, 5),           // the scale-down floor gives 5 but the estimate is 0: no activation scale
        (8, 10, 1, 8),           // estimate 1 > 0: max(1, floor(10 / 2)) = 5 → 8
    ] as [(Int, Int, Double, Int)])
    func activationScale(activation: Int, ready: Int, stable: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(activationScale: activation))
        let decision = decider.decide(readyReplicas: ready, averages: averages(stable, 0), now: ts(0))
        #expect(decision.desired == expected)
    }

    @Test("the activation scale is applied after the scale-up cap")
    func activationScaleBypassesScaleUpCap() {
        // Scale-up rate 1 with 1 ready caps at 1; the activation scale still gives 5.
        var decider = makeDecider(DeciderSpec(maxScaleUpRate: 1, activationScale: 5))
        #expect(decider.decide(readyReplicas: 1, averages: averages(1, 0), now: ts(0)).desired == 5)
    }

    @Test("the activation scale also raises the panic count")
    func activationScaleInPanic() {
        var decider = makeDecider(DeciderSpec(activationScale: 3))
        // Stable estimate 0 stays 0; panic ceil(140 / 70) = 2 → 3, and 2 / 1 >= 2 panics.
        let decision = decider.decide(readyReplicas: 0, averages: averages(0, 140), now: ts(0))
        #expect(decision.panicking)
        #expect(decision.desired == 3)
    }

    // MARK: - Scale-down delay

    @Test("the scale-down delay keeps the highest count of the last ceil(delay / 2 s) buckets")
    func scaleDownDelay() {
        var decider = makeDecider(DeciderSpec(scaleDownDelay: .seconds(6)))   // 3 buckets
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        // Undelayed: max(ceil(70 / 70), floor(10 / 2)) = 5.
        let lower = averages(70, 0)
        #expect(decider.decide(readyReplicas: 10, averages: lower, now: ts(2)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: lower, now: ts(4)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: lower, now: ts(6)).desired == 5)
    }

    @Test("the delay buckets follow unix / 2: a decision at an odd second ages out a second sooner")
    func scaleDownDelayAlignment() {
        var decider = makeDecider(DeciderSpec(scaleDownDelay: .seconds(6)))
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(1)).desired == 10)
        let lower = averages(70, 0)
        #expect(decider.decide(readyReplicas: 10, averages: lower, now: ts(5)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: lower, now: ts(6)).desired == 5)
    }

    @Test("two decisions in one 2-second bucket keep the larger, even with the shortest delay")
    func scaleDownDelaySameBucket() {
        var decider = makeDecider(DeciderSpec(scaleDownDelay: .seconds(2)))   // 1 bucket
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        #expect(decider.decide(readyReplicas: 1, averages: averages(70, 0), now: ts(1)).desired == 10)
        #expect(decider.decide(readyReplicas: 1, averages: averages(70, 0), now: ts(2)).desired == 1)
    }

    @Test("a 5-minute delay holds the count for 150 buckets")
    func fiveMinuteDelay() {
        var decider = makeDecider(DeciderSpec(scaleDownDelay: .seconds(300)))
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(299)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(300)).desired == 5)
    }

    @Test("without a delay the count drops at once")
    func noDelay() {
        var decider = makeDecider()
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(2)).desired == 5)
    }

    @Test("an unreachable target bypasses the delay")
    func unreachableBypassesDelay() {
        var decider = makeDecider(DeciderSpec(scaleDownDelay: .seconds(6), reachable: false))
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        // No scale-down floor and no delay: ceil(70 / 70) = 1.
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(2)).desired == 1)
    }

    // MARK: - Excess burst capacity

    @Test("EBC = floor(ready × total - TBC - panic) with the raw ready count", arguments: [
        // (ready, total, TBC, stable, panic, EBC)
        (3, 100.0, 211.0, 0.0, 89.0, 0),
        (3, 100, 211, 0, 89.5, -1),           // floor(-0.5)
        (3, 100, 211, 0, 50.7, 38),           // floor(38.3)
        (10, 100, 200, 0, 0.5, 799),          // floor(799.5)
        (0, 100, 211, 0, 0, -211),            // raw 0, not max(1, 0)
        (1, 100, 211, 0, 0, -111),
        (3, 100, 211, 1000, 0, 89),           // the stable value does not enter
        (5, 1, 211, 0, 0, -206),              // container concurrency 1
        (3, 100, 0, 0, 500, 0),               // TBC 0: always 0
        (0, 100, 0, 0, 0, 0),
        (3, 100, -1, 0, 0, -1),               // TBC -1: always -1
        (100, 100, -1, 0, 0, -1),
    ] as [(Int, Double, Double, Double, Double, Int)])
    func excessBurstCapacity(ready: Int, total: Double, tbc: Double, stable: Double, panic: Double, expected: Int) {
        var decider = makeDecider(DeciderSpec(totalValue: total, targetBurstCapacity: tbc))
        let decision = decider.decide(readyReplicas: ready, averages: averages(stable, panic), now: ts(0))
        #expect(decision.excessBurstCapacity == expected)
    }

    // MARK: - Deciding from the aggregator

    @Test("no data: no decision")
    func noDataNoDecision() {
        var decider = makeDecider()
        let metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        #expect(decider.decide(readyReplicas: 3, metrics: metrics, now: ts(0)) == nil)
    }

    @Test("no data with TBC -1: the activator sees every request, so silence is a decision on zeros")
    func noDataWithActivatorAlwaysInPath() throws {
        var decider = makeDecider(DeciderSpec(targetBurstCapacity: -1))
        let metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        let decisionResult = decider.decide(readyReplicas: 0, metrics: metrics, now: ts(0))
        let decision = try #require(decisionResult)
        #expect(decision == ScaleDecision(desired: 0, excessBurstCapacity: -1, panicking: false, stable: 0, panic: 0))

        // With 4 ready replicas the scale-down floor still applies: floor(4 / 2) = 2.
        let fourResult = decider.decide(readyReplicas: 4, metrics: metrics, now: ts(2))
        let four = try #require(fourResult)
        #expect(four.desired == 2)
    }

    @Test("a decision from recorded data uses the stable and panic averages of the spec's metric")
    func decisionFromData() throws {
        var decider = makeDecider()
        var metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        metrics.record(140, for: .concurrency, at: ts(0))
        let decisionResult = decider.decide(readyReplicas: 1, metrics: metrics, now: ts(0))
        let decision = try #require(decisionResult)
        // ceil(140 / 70) = 2 and 2 / 1 >= 2: panic with 2. EBC = 100 - 211 - 140.
        #expect(decision == ScaleDecision(desired: 2, excessBurstCapacity: -251, panicking: true, stable: 140, panic: 140))
    }

    @Test("data older than the stable window is no data; at exactly the window it reads zeros")
    func staleData() throws {
        var decider = makeDecider()
        var metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        metrics.record(140, for: .concurrency, at: ts(0))
        let edgeResult = decider.decide(readyReplicas: 1, metrics: metrics, now: ts(60))
        let edge = try #require(edgeResult)
        #expect(edge.desired == 0)
        #expect(edge.stable == 0)
        #expect(edge.panic == 0)
        #expect(decider.decide(readyReplicas: 1, metrics: metrics, now: ts(61)) == nil)
    }

    @Test("the spec's metric picks the signal: an rps target ignores concurrency data")
    func metricSelection() throws {
        var rps = makeDecider(DeciderSpec(metric: .rps, targetValue: 140, totalValue: 200))
        var metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        metrics.record(700, for: .concurrency, at: ts(0))
        #expect(rps.decide(readyReplicas: 1, metrics: metrics, now: ts(0)) == nil)

        metrics.record(RequestStat(averageConcurrency: 10, requestCount: 420), at: ts(1))
        let decisionResult = rps.decide(readyReplicas: 3, metrics: metrics, now: ts(1))
        let decision = try #require(decisionResult)
        // rps: 420 in one bucket → ceil(420 / 140) = 3; 3 / 3 < 2. EBC = 3·200 - 211 - 420.
        #expect(decision.desired == 3)
        #expect(!decision.panicking)
        #expect(decision.excessBurstCapacity == -31)
    }

    @Test("TBC -1 with data decides on the data")
    func activatorAlwaysInPathWithData() throws {
        var decider = makeDecider(DeciderSpec(targetBurstCapacity: -1))
        var metrics = MetricAggregator(stableWindow: .seconds(60), panicWindow: .seconds(6))
        metrics.record(700, for: .concurrency, at: ts(0))
        let decisionResult = decider.decide(readyReplicas: 0, metrics: metrics, now: ts(0))
        let decision = try #require(decisionResult)
        #expect(decision.desired == 10)
        #expect(decision.excessBurstCapacity == -1)
    }

    // MARK: - Spec updates

    @Test("an updated spec applies to the next decision")
    func updateSpec() {
        var decider = makeDecider()
        #expect(decider.decide(readyReplicas: 1, averages: averages(140, 0), now: ts(0)).desired == 2)
        decider.update(spec: DeciderSpec(targetValue: 10))
        #expect(decider.spec.targetValue == 10)
        #expect(decider.decide(readyReplicas: 1, averages: averages(140, 0), now: ts(2)).desired == 14)
    }

    /// Thaw's documented deviation (see `Decider.update(spec:)`): Knative builds its delay window
    /// only when the autoscaler is created, Thaw applies a changed delay at once.
    @Test("a changed scale-down delay takes effect at once (Thaw's documented deviation)")
    func updateDelay() {
        var decider = makeDecider()
        #expect(decider.decide(readyReplicas: 0, averages: averages(700, 0), now: ts(0)).desired == 10)
        decider.update(spec: DeciderSpec(scaleDownDelay: .seconds(6)))
        #expect(decider.decide(readyReplicas: 10, averages: averages(700, 0), now: ts(2)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(4)).desired == 10)
        #expect(decider.decide(readyReplicas: 10, averages: averages(70, 0), now: ts(8)).desired == 5)
    }
}
