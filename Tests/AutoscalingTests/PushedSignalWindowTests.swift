import Testing
@testable import Autoscaling

/// A pushed signal (the collector's per-target GPU total) is a gauge sampled every collector
/// interval, not a count per second: its windows average the samples that arrived, whatever the
/// interval, and two samples in one second are not added up.
struct PushedSignalWindowTests {
    static func gpuScaler(stableWindow: Duration = .seconds(60), ready: Int) -> TargetScaler {
        var spec = DeciderSpec(metric: .gpu, targetValue: 50, totalValue: 100, stableWindow: stableWindow, panicWindow: .seconds(6))
        spec.initialScale = 1
        let replicas = ReplicaPolicy(minScale: 1, initialScale: 1, stableWindow: stableWindow, scaleToZeroGracePeriod: .seconds(30))
        return TargetScaler(spec: spec, replicas: replicas, readyReplicas: ready, now: ts(0))
    }

    @Test func samplesEveryFiveSecondsAverageToTheirValue() {
        var scaler = Self.gpuScaler(ready: 4)
        // The collector's default interval: 180 % of GPU every 5 s asks for ceil(180 / 50) = 4.
        for t in stride(from: 0, through: 60, by: 5) { scaler.record(180, for: .gpu, at: ts(Double(t))) }
        let averages = scaler.metrics.averages(for: .gpu, at: ts(62))
        #expect(averages?.stable == 180)
        #expect(averages?.panic == 180)
        #expect(scaler.step(readyReplicas: 4, activatorInPath: true, now: ts(62)).decision?.desired == 4)
    }

    @Test func aLateSampleLeavesAnEmptySecondThatIsNotAZero() {
        var scaler = Self.gpuScaler(stableWindow: .seconds(6), ready: 4)
        // One-second rounds with jitter: the round due at t=2 came late, so second 2 has no sample.
        // Read as a zero, it turned 180 into 150 and 4 replicas into 3 (seen in an end-to-end test).
        for t in [0.1, 1.2, 3.0, 4.1, 5.1] { scaler.record(180, for: .gpu, at: ts(t)) }
        #expect(scaler.metrics.averages(for: .gpu, at: ts(5.5))?.stable == 180)
        #expect(scaler.step(readyReplicas: 4, activatorInPath: true, now: ts(5.5)).decision?.desired == 4)
    }

    @Test func twoSamplesInOneSecondAreTwoReadingsOfOneLevel() {
        var scaler = Self.gpuScaler(stableWindow: .seconds(6), ready: 4)
        for t in [0.1, 0.9, 2.0, 3.0, 4.0, 5.0] { scaler.record(180, for: .gpu, at: ts(t)) }
        #expect(scaler.metrics.averages(for: .gpu, at: ts(5))?.stable == 180)
    }

    @Test func samplesOutOfOrderAndOutsideTheWindow() {
        var window = SampleWindow(window: .seconds(10))
        window.record(10, at: ts(20))
        window.record(30, at: ts(15))
        window.record(99, at: ts(5))
        // 5 s is outside the 10 s window ending at the newest sample (20 s); 15 s and 20 s are inside.
        #expect(window.average(at: ts(20)) == 20)
        #expect(window.average(over: .seconds(3), at: ts(20)) == 10)
        #expect(window.average(at: ts(31)) == nil)
        window.resize(to: .seconds(2))
        #expect(window.average(at: ts(20)) == 10)
    }

    @Test func theAverageFollowsTheSamplesInTheWindow() {
        var scaler = Self.gpuScaler(stableWindow: .seconds(20), ready: 2)
        for t in stride(from: 0, through: 10, by: 5) { scaler.record(100, for: .gpu, at: ts(Double(t))) }
        for t in stride(from: 15, through: 25, by: 5) { scaler.record(40, for: .gpu, at: ts(Double(t))) }
        // The window (6 s..25 s) holds the samples at 10, 15, 20 and 25: (100 + 40 + 40 + 40) / 4.
        #expect(scaler.metrics.averages(for: .gpu, at: ts(25))?.stable == 55)
        // The panic window (20 s..25 s) holds 20 and 25 only.
        #expect(scaler.metrics.averages(for: .gpu, at: ts(25))?.panic == 40)
    }
}

extension PushedSignalWindowTests {
    @Test func weightedExponentialWeighsNewSamplesMoreAndKeepsASteadyLevel() throws {
        var steady = SampleWindow(window: .seconds(60), algorithm: .weightedExponential)
        for t in stride(from: 0, through: 60, by: 5) { steady.record(180, at: ts(Double(t))) }
        #expect(steady.average(at: ts(62)) == 180)

        var linear = SampleWindow(window: .seconds(60))
        var weighted = SampleWindow(window: .seconds(60), algorithm: .weightedExponential)
        for t in stride(from: 0, through: 60, by: 5) {
            linear.record(t < 50 ? 100 : 200, at: ts(Double(t)))
            weighted.record(t < 50 ? 100 : 200, at: ts(Double(t)))
        }
        let plain = try #require(linear.average(at: ts(60)))
        let recent = try #require(weighted.average(at: ts(60)))
        #expect(plain == 125, "(9 × 100 + 3 × 200) / 12 samples inside (0 s, 60 s]")
        #expect(recent > plain && recent < 200)
    }

    @Test func averagesAreRoundedLikeBucketAverages() {
        var window = SampleWindow(window: .seconds(10))
        for (t, value) in [(1.0, 0.1), (2.0, 0.2), (3.0, 50.0)] { window.record(value, at: ts(t)) }
        // (0.1 + 0.2 + 50) / 3 is 16.766666…: 6 decimals, as the decider's inputs always are.
        #expect(window.average(at: ts(3)) == 16.766667)
    }
}
