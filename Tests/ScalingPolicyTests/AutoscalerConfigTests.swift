import Autoscaling
import Testing
@testable import ScalingPolicy

@Suite struct AutoscalerConfigTests {
    @Test func defaultsAreKnativesExceptMinScale() throws {
        let config = try AutoscalerConfig(data: [:])
        #expect(config.minScale == 1)
        #expect(config.maxScale == 0)
        #expect(config.containerConcurrencyTargetFraction == 0.7)
        #expect(config.containerConcurrencyTargetDefault == 100)
        #expect(config.requestsPerSecondTargetDefault == 200)
        #expect(config.targetBurstCapacity == 211)
        #expect(config.stableWindow == .seconds(60))
        #expect(config.panicWindowPercentage == 10)
        #expect(config.panicThresholdPercentage == 200)
        #expect(config.maxScaleUpRate == 1000)
        #expect(config.maxScaleDownRate == 2)
        #expect(config.scaleToZeroGracePeriod == .seconds(30))
        #expect(config.scaleToZeroPodRetentionPeriod == .zero)
        #expect(config.initialScale == 1)
        #expect(config.enableScaleToZero)
        #expect(!config.allowZeroInitialScale)
        #expect(config.progressDeadline == .seconds(600))
    }

    @Test func readsEveryKey() throws {
        let config = try AutoscalerConfig(data: [
            "enable-scale-to-zero": "false", "allow-zero-initial-scale": "true",
            "container-concurrency-target-percentage": "80", "container-concurrency-target-default": "50",
            "requests-per-second-target-default": "300", "target-burst-capacity": "-1", "stable-window": "2m",
            "panic-window-percentage": "20", "panic-threshold-percentage": "300", "max-scale-up-rate": "10",
            "max-scale-down-rate": "4", "activator-capacity": "50", "scale-to-zero-grace-period": "45s",
            "scale-to-zero-pod-retention-period": "1m", "scale-down-delay": "10s", "initial-scale": "0",
            "min-scale": "0", "max-scale": "10", "max-scale-limit": "20", "progress-deadline": "120s",
            "pod-autoscaler-class": "kpa.autoscaling.knative.dev",
        ])
        #expect(!config.enableScaleToZero)
        #expect(config.allowZeroInitialScale)
        #expect(config.containerConcurrencyTargetFraction == 0.8)
        #expect(config.containerConcurrencyTargetDefault == 50)
        #expect(config.requestsPerSecondTargetDefault == 300)
        #expect(config.targetBurstCapacity == -1)
        #expect(config.stableWindow == .seconds(120))
        #expect(config.panicWindowPercentage == 20)
        #expect(config.panicThresholdPercentage == 300)
        #expect(config.maxScaleUpRate == 10)
        #expect(config.maxScaleDownRate == 4)
        #expect(config.activatorCapacity == 50)
        #expect(config.scaleToZeroGracePeriod == .seconds(45))
        #expect(config.scaleToZeroPodRetentionPeriod == .seconds(60))
        #expect(config.scaleDownDelay == .seconds(10))
        #expect(config.initialScale == 0)
        #expect(config.minScale == 0)
        #expect(config.maxScale == 10)
        #expect(config.maxScaleLimit == 20)
        #expect(config.progressDeadline == .seconds(120))
    }

    @Test func utilizationAtMostOneIsAFraction() throws {
        #expect(try AutoscalerConfig(data: ["container-concurrency-target-percentage": "0.5"]).containerConcurrencyTargetFraction == 0.5)
        #expect(try AutoscalerConfig(data: ["container-concurrency-target-percentage": "50"]).containerConcurrencyTargetFraction == 0.5)
    }

    @Test(arguments: [
        ("scale-to-zero-grace-period", "0s", "must be positive"),
        ("scale-down-delay", "-1s", "out of range"),
        ("scale-down-delay", "1500ms", "whole seconds"),
        ("scale-to-zero-pod-retention-period", "-1s", "cannot be negative"),
        ("target-burst-capacity", "-2", "-1 for unlimited"),
        ("container-concurrency-target-percentage", "0", "(0, 100]"),
        ("container-concurrency-target-percentage", "101", "(0, 100]"),
        ("requests-per-second-target-default", "0.001", "at least 0.01"),
        ("activator-capacity", "0.5", "at least 1"),
        ("max-scale-up-rate", "1", "greater than 1"),
        ("max-scale-down-rate", "0.5", "greater than 1"),
        ("stable-window", "5s", "6s to 1h0m0s"),
        ("stable-window", "2h", "6s to 1h0m0s"),
        ("stable-window", "6500ms", "whole seconds"),
        ("panic-window-percentage", "0.5", "[1, 100]"),
        ("panic-threshold-percentage", "100", "[110, 1000]"),
        ("initial-scale", "0", "allow-zero-initial-scale"),
        ("min-scale", "-1", "at least 0"),
        ("max-scale", "-1", "at least 0"),
        ("max-scale-limit", "-1", "at least 0"),
        ("progress-deadline", "0s", "must be positive"),
        ("enable-scale-to-zero", "maybe", "true or false"),
        ("max-scale-up-rate", "fast", "not a number"),
        ("min-scale", "1.5", "not a whole number"),
        ("min-scale", "99999999999", "out of range"),
        ("stable-window", "60", "not a duration"),
        ("pod-autoscaler-class", "hpa.autoscaling.knative.dev", "not a class Thaw scales"),
    ])
    func rejectsOutOfRangeValues(key: String, value: String, phrase: String) throws {
        let error = try #require(throws: PolicyError.self) { try AutoscalerConfig(data: [key: value]) }
        let issue = try #require(error.issues.first { $0.key == key })
        #expect(issue.value == value)
        #expect(issue.description.contains(phrase), "\(issue)")
        #expect(issue.description.contains(key) && issue.description.contains("\"\(value)\""))
    }

    @Test func maxScaleMustRespectLimitAndMinScale() throws {
        let overLimit = try #require(throws: PolicyError.self) {
            try AutoscalerConfig(data: ["max-scale-limit": "5", "max-scale": "10"])
        }
        #expect(overLimit.issues.map(\.key) == ["max-scale"])
        let unbounded = try #require(throws: PolicyError.self) { try AutoscalerConfig(data: ["max-scale-limit": "5"]) }
        #expect(unbounded.issues.map(\.key) == ["max-scale"])
        let inverted = try #require(throws: PolicyError.self) {
            try AutoscalerConfig(data: ["min-scale": "4", "max-scale": "3"])
        }
        #expect(inverted.issues.map(\.key) == ["min-scale"])
    }

    @Test func reportsEveryProblemAndUnknownKeysTogether() throws {
        let error = try #require(throws: PolicyError.self) {
            try AutoscalerConfig(data: ["stable-window": "1s", "max-scale-up-rate": "0", "stable-windw": "60s"])
        }
        #expect(Set(error.issues.map(\.key)) == ["stable-window", "max-scale-up-rate", "stable-windw"])
        #expect(error.description.contains("3 problems"))
    }
}
