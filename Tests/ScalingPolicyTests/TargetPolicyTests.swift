import Autoscaling
import Testing
@testable import ScalingPolicy

private let k = "autoscaling.knative.dev/"

@Suite struct TargetPolicyTests {
    @Test func concurrencyDefaults() throws {
        let policy = try TargetPolicy(annotations: [:])
        #expect(policy.decider.metric == .concurrency)
        #expect(policy.decider.totalValue == 100)
        #expect(abs(policy.decider.targetValue - 70) < 1e-9)
        #expect(policy.decider.targetBurstCapacity == 211)
        #expect(policy.decider.panicThreshold == 2)
        #expect(policy.decider.stableWindow == .seconds(60))
        #expect(policy.decider.panicWindow == .seconds(6))
        #expect(policy.decider.maxScaleUpRate == 1000)
        #expect(policy.decider.maxScaleDownRate == 2)
        #expect(policy.decider.initialScale == 1)
        #expect(policy.decider.activationScale == 0)
        #expect(policy.replicas.minScale == 1, "Thaw's default min-scale is 1")
        #expect(policy.replicas.maxScale == 0)
        #expect(policy.replicas.activationTimeout == .seconds(630))
        #expect(!policy.replicas.activatorAlwaysInPath)
    }

    @Test func containerConcurrencyIsTheTotalAndCapsTheTarget() throws {
        let fromConcurrency = try TargetPolicy(annotations: [:], containerConcurrency: 10)
        #expect(fromConcurrency.decider.totalValue == 10)
        #expect(abs(fromConcurrency.decider.targetValue - 7) < 1e-9)
        let capped = try TargetPolicy(annotations: [k + "target": "50"], containerConcurrency: 10)
        #expect(capped.decider.totalValue == 10)
        let below = try TargetPolicy(annotations: [k + "target": "4"], containerConcurrency: 10)
        #expect(below.decider.totalValue == 4)
    }

    @Test func rpsUsesItsOwnDefaultAndIgnoresContainerConcurrency() throws {
        let rps = try TargetPolicy(annotations: [k + "metric": "rps"], containerConcurrency: 5)
        #expect(rps.decider.metric == .rps)
        #expect(rps.decider.totalValue == 200)
        #expect(abs(rps.decider.targetValue - 140) < 1e-9)
        let targeted = try TargetPolicy(annotations: [k + "metric": "rps", k + "target": "50"], containerConcurrency: 5)
        #expect(targeted.decider.totalValue == 50, "the concurrency cap applies to the concurrency metric only")
        let config = try AutoscalerConfig(data: ["container-concurrency-target-percentage": "50"])
        #expect(abs(try TargetPolicy(annotations: [k + "metric": "rps"], config: config).decider.targetValue - 140) < 1e-9,
                "rps utilization is not the container concurrency percentage")
    }

    @Test func utilizationAnnotationAndTheTargetFloor() throws {
        let policy = try TargetPolicy(annotations: [k + "target": "10", k + "target-utilization-percentage": "50"])
        #expect(policy.decider.targetValue == 5)
        let tiny = try TargetPolicy(annotations: [k + "target": "0.01", k + "target-utilization-percentage": "1"])
        #expect(tiny.decider.targetValue == 0.01, "the target never drops below 0.01")
    }

    /// Whole seconds, and never under 2 (Thaw's pushed reports; see `PushedReportLagTests`).
    @Test(arguments: [("60s", "10", 6), ("20s", "12.5", 3), ("6s", "1", 2), ("10s", "10", 2), ("10s", "25", 3), ("30s", "5", 2)])
    func panicWindowIsRoundedToWholeSeconds(window: String, percentage: String, seconds: Int64) throws {
        let policy = try TargetPolicy(annotations: [k + "window": window, k + "panic-window-percentage": percentage])
        #expect(policy.decider.panicWindow == .seconds(seconds))
    }

    @Test func thresholdAndRatesAndDelays() throws {
        let policy = try TargetPolicy(annotations: [
            k + "panic-threshold-percentage": "150", "autoscaling.thaw.dev/max-scale-up-rate": "3",
            k + "scale-down-delay": "20s", k + "activation-scale": "3", k + "min-scale": "0",
            "serving.knative.dev/progress-deadline": "90s", k + "scale-to-zero-pod-retention-period": "15s",
        ])
        #expect(policy.decider.panicThreshold == 1.5)
        #expect(policy.decider.maxScaleUpRate == 3)
        #expect(policy.decider.scaleDownDelay == .seconds(20))
        #expect(policy.decider.activationScale == 3)
        #expect(policy.replicas.minScale == 0)
        #expect(policy.replicas.activationTimeout == .seconds(120))
        #expect(policy.replicas.scaleToZeroPodRetention == .seconds(15))
    }

    @Test func unlimitedBurstCapacityKeepsTheActivatorInThePath() throws {
        let policy = try TargetPolicy(annotations: [k + "target-burst-capacity": "-1"])
        #expect(policy.replicas.activatorAlwaysInPath)
        #expect(policy.decider.initialExcessBurstCapacity == -1)
    }

    @Test func unreachableTargetsHaveNoLowerBound() throws {
        let policy = try TargetPolicy(annotations: [k + "min-scale": "3"], reachable: false)
        #expect(!policy.decider.reachable)
        #expect(policy.replicas.effectiveMinScale == 0)
    }

    @Test func zeroInitialScaleFallsBackUnlessAllowed() throws {
        var config = AutoscalerConfig()
        config.initialScale = 2
        #expect(try TargetPolicy(annotations: [k + "initial-scale": "5"], config: config).decider.initialScale == 5)
        config.allowZeroInitialScale = true
        #expect(try TargetPolicy(annotations: [k + "initial-scale": "0"], config: config).decider.initialScale == 0)
    }

    @Test func containerConcurrencyOutOfRangeIsReportedWithAnnotationProblems() throws {
        let error = try #require(throws: PolicyError.self) {
            try TargetPolicy(annotations: [k + "window": "1s"], containerConcurrency: 1001)
        }
        #expect(Set(error.issues.map(\.key)) == ["containerConcurrency", k + "window"])
    }
}
