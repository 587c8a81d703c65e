import Testing
import Autoscaling

/// `DeciderSpec`: defaults, the excess burst capacity before the first decision (Knative's
/// `multiscaler.createScaler`) and the number of activators (Knative's `computeNumActivators`).
@Suite("DeciderSpec")
struct DeciderSpecTests {
    @Test("the defaults are Knative's concurrency defaults")
    func defaults() {
        let spec = DeciderSpec()
        #expect(spec.metric == .concurrency)
        #expect(spec.targetValue == 70)              // 100 × 0.7
        #expect(spec.totalValue == 100)
        #expect(spec.targetBurstCapacity == 211)
        #expect(spec.activatorCapacity == 100)
        #expect(spec.panicThreshold == 2)
        #expect(spec.maxScaleUpRate == 1000)
        #expect(spec.maxScaleDownRate == 2)
        #expect(spec.stableWindow == .seconds(60))
        #expect(spec.panicWindow == .seconds(6))
        #expect(spec.scaleDownDelay == .zero)
        #expect(spec.initialScale == 1)
        #expect(spec.activationScale == 0)
        #expect(spec.reachable)
        #expect(spec.aggregation == .linear)
    }

    @Test("initial EBC: TBC for TBC in {-1, 0}, else int32(initialScale × total - TBC)", arguments: [
        // (initial scale, total, TBC, EBC)
        (1, 100.0, 211.0, -111),      // the default: activator in the path
        (3, 100, 211, 89),
        (0, 100, 211, -211),
        (1, 100, 0, 0),
        (5, 100, 0, 0),
        (1, 100, -1, -1),
        (10, 100, -1, -1),
        (1, 100, 210.5, -110),        // -110.5 converts toward zero, not down
        (2, 100, 0.5, 199),           // 199.5 → 199
        (1, 1, 211, -210),
    ] as [(Int, Double, Double, Int)])
    func initialExcessBurstCapacity(initialScale: Int, total: Double, tbc: Double, expected: Int) {
        let spec = DeciderSpec(totalValue: total, targetBurstCapacity: tbc, initialScale: initialScale)
        #expect(spec.initialExcessBurstCapacity == expected)
    }

    @Test("activators: 2 for TBC 0, else max(2, ceil((ready × total + max(TBC, 0)) / capacity))", arguments: [
        // (ready, total, TBC, activator capacity, activators)
        (0, 100.0, 211.0, 100.0, 3),   // ceil(2.11)
        (10, 100, 211, 100, 13),       // ceil(12.11)
        (1, 100, 211, 100, 4),         // ceil(3.11)
        (0, 100, 0, 100, 2),
        (100, 100, 0, 100, 2),         // TBC 0 ignores the ready count
        (0, 100, -1, 100, 2),          // TBC -1 adds nothing
        (5, 100, -1, 100, 5),
        (3, 100, -1, 100, 3),
        (1, 100, 50, 100, 2),          // ceil(1.5)
        (1, 100, 100, 100, 2),         // exactly 2
        (1, 100, 101, 100, 3),         // ceil(2.01)
        (10, 100, 211, 300, 5),        // ceil(4.036...)
    ] as [(Int, Double, Double, Double, Int)])
    func activatorsNeeded(ready: Int, total: Double, tbc: Double, capacity: Double, expected: Int) {
        let spec = DeciderSpec(totalValue: total, targetBurstCapacity: tbc, activatorCapacity: capacity)
        #expect(spec.activatorsNeeded(readyReplicas: ready) == expected)
    }
}
