import Autoscaling
import Testing
@testable import ScalingPolicy

private let k = "autoscaling.knative.dev/"
private let thaw = "autoscaling.thaw.dev/"

@Suite struct AutoscalingAnnotationsTests {
    @Test func readsEveryKnativeAndThawKey() throws {
        let parsed = try AutoscalingAnnotations([
            k + "class": "kpa.autoscaling.knative.dev", k + "metric": "rps", k + "target": "25",
            k + "target-utilization-percentage": "80", k + "target-burst-capacity": "-1", k + "min-scale": "2",
            k + "max-scale": "9", k + "initial-scale": "3", k + "activation-scale": "4", k + "window": "2m",
            k + "panic-window-percentage": "20", k + "panic-threshold-percentage": "150",
            k + "scale-to-zero-pod-retention-period": "90s", k + "scale-down-delay": "30s",
            k + "metric-aggregation-algorithm": "weighted-exponential", "serving.knative.dev/progress-deadline": "5m",
            thaw + "max-scale-up-rate": "4", thaw + "max-scale-down-rate": "3", thaw + "scale-to-zero-grace-period": "5s",
            "unrelated.example.com/key": "ignored",
        ])
        #expect(parsed.metric == .rps)
        #expect(parsed.target == 25)
        #expect(parsed.targetUtilization == 0.8)
        #expect(parsed.targetBurstCapacity == -1)
        #expect(parsed.minScale == 2)
        #expect(parsed.maxScale == 9)
        #expect(parsed.initialScale == 3)
        #expect(parsed.activationScale == 4)
        #expect(parsed.window == .seconds(120))
        #expect(parsed.panicWindowPercentage == 20)
        #expect(parsed.panicThresholdPercentage == 150)
        #expect(parsed.scaleToZeroPodRetention == .seconds(90))
        #expect(parsed.scaleDownDelay == .seconds(30))
        #expect(parsed.aggregation == .weightedExponential)
        #expect(parsed.progressDeadline == .seconds(300))
        #expect(parsed.maxScaleUpRate == 4)
        #expect(parsed.maxScaleDownRate == 3)
        #expect(parsed.scaleToZeroGracePeriod == .seconds(5))
    }

    @Test(arguments: [
        ("targetUtilizationPercentage", "50"), ("targetBurstCapacity", "10"), ("minScale", "3"), ("maxScale", "7"),
        ("initialScale", "2"), ("panicWindowPercentage", "5"), ("panicThresholdPercentage", "400"),
        ("scaleToZeroPodRetentionPeriod", "10s"), ("scaleDownDelay", "4s"), ("metricAggregationAlgorithm", "weightedExponential"),
    ])
    func acceptsCamelCaseAliases(alias: String, value: String) throws {
        let parsed = try AutoscalingAnnotations([k + alias: value])
        #expect(parsed != AutoscalingAnnotations(), "alias \(alias) was ignored")
    }

    @Test func theHyphenatedSpellingWinsOverItsAlias() throws {
        let parsed = try AutoscalingAnnotations([k + "min-scale": "2", k + "minScale": "5"])
        #expect(parsed.minScale == 2)
    }

    @Test func anInvalidAliasIsReportedUnderItsOwnSpelling() throws {
        let error = try #require(throws: PolicyError.self) { try AutoscalingAnnotations([k + "maxScale": "-3"]) }
        #expect(error.issues.map(\.key) == [k + "maxScale"])
    }

    @Test(arguments: [
        ("class", "hpa.autoscaling.knative.dev", "not a class Thaw scales"),
        ("metric", "cpu", "concurrency, rps"),
        ("target", "0.001", "at least 0.01"),
        ("target", "lots", "not a number"),
        ("target-utilization-percentage", "0.5", "[1, 100]"),
        ("target-utilization-percentage", "101", "[1, 100]"),
        ("target-burst-capacity", "-2", "-1 for unlimited"),
        ("min-scale", "-1", "0 to 2147483647"),
        ("min-scale", "2147483648", "out of range"),
        ("min-scale", "one", "not a whole number"),
        ("max-scale", "-1", "0 to 2147483647"),
        ("initial-scale", "-1", "at least 0"),
        ("initial-scale", "0", "allow-zero-initial-scale"),
        ("activation-scale", "1", "at least 2"),
        ("window", "5s", "6s to 1h0m0s"),
        ("window", "61m", "6s to 1h0m0s"),
        ("window", "6500ms", "whole seconds"),
        ("window", "sixty", "not a duration"),
        ("panic-window-percentage", "0", "[1, 100]"),
        ("panic-window-percentage", "100.5", "[1, 100]"),
        ("panic-threshold-percentage", "109", "[110, 1000]"),
        ("panic-threshold-percentage", "1001", "[110, 1000]"),
        ("scale-to-zero-pod-retention-period", "-1s", "0s to 1h0m0s"),
        ("scale-to-zero-pod-retention-period", "2h", "0s to 1h0m0s"),
        ("scale-down-delay", "-1s", "0s to 1h0m0s"),
        ("scale-down-delay", "1h1s", "0s to 1h0m0s"),
        ("scale-down-delay", "2.5s", "whole seconds"),
        ("metric-aggregation-algorithm", "median", "linear or weighted-exponential"),
    ])
    func rejectsBadKnativeValues(name: String, value: String, phrase: String) throws {
        try expectIssue(key: k + name, value: value, phrase: phrase)
    }

    @Test(arguments: [
        ("max-scale-up-rate", "1", "greater than 1"),
        ("max-scale-down-rate", "0.9", "greater than 1"),
        ("scale-to-zero-grace-period", "0s", "must be positive"),
    ])
    func rejectsBadThawValues(name: String, value: String, phrase: String) throws {
        try expectIssue(key: thaw + name, value: value, phrase: phrase)
    }

    @Test func progressDeadlineMustBePositive() throws {
        try expectIssue(key: "serving.knative.dev/progress-deadline", value: "0s", phrase: "must be positive")
    }

    @Test func maxScaleBelowMinScale() throws {
        let error = try #require(throws: PolicyError.self) {
            try AutoscalingAnnotations([k + "min-scale": "5", k + "max-scale": "3"])
        }
        #expect(error.issues.count == 1)
        #expect(error.issues[0].key == k + "max-scale")
        #expect(error.issues[0].problem.contains("less than min-scale (5)"))
    }

    @Test func maxScaleLimitFromTheCluster() throws {
        var config = AutoscalerConfig()
        config.maxScaleLimit = 10
        config.maxScale = 5
        let over = try #require(throws: PolicyError.self) { try AutoscalingAnnotations([k + "max-scale": "11"], config: config) }
        #expect(over.issues.first?.problem.contains("max-scale-limit (10)") == true)
        let unbounded = try #require(throws: PolicyError.self) { try AutoscalingAnnotations([k + "max-scale": "0"], config: config) }
        #expect(unbounded.issues.first?.problem.contains("unbounded") == true)
        #expect(try AutoscalingAnnotations([k + "max-scale": "10"], config: config).maxScale == 10)
    }

    @Test func activationScaleMustFitTheBounds() throws {
        let belowMin = try #require(throws: PolicyError.self) {
            try AutoscalingAnnotations([k + "min-scale": "3", k + "activation-scale": "2"])
        }
        #expect(belowMin.issues.map(\.key) == [k + "activation-scale"])
        #expect(belowMin.issues[0].problem.contains("min-scale (3)"))
        let aboveMax = try #require(throws: PolicyError.self) {
            try AutoscalingAnnotations([k + "max-scale": "3", k + "activation-scale": "4"])
        }
        #expect(aboveMax.issues[0].problem.contains("max-scale (3)"))
        #expect(try AutoscalingAnnotations([k + "min-scale": "2", k + "max-scale": "4", k + "activation-scale": "3"]).activationScale == 3)
    }

    @Test func zeroInitialScaleWhenTheClusterAllowsIt() throws {
        var config = AutoscalerConfig()
        config.allowZeroInitialScale = true
        #expect(try AutoscalingAnnotations([k + "initial-scale": "0"], config: config).initialScale == 0)
    }

    @Test func reportsAllProblemsAtOnce() throws {
        let error = try #require(throws: PolicyError.self) {
            try AutoscalingAnnotations([
                k + "window": "1s", k + "target": "0", k + "metric": "memory", thaw + "max-scale-up-rate": "1",
            ])
        }
        #expect(Set(error.issues.map(\.key)) == [k + "window", k + "target", k + "metric", thaw + "max-scale-up-rate"])
        let text = error.description
        #expect(text.contains("4 problems"))
        #expect(text.contains("\"1s\"") && text.contains("\"memory\""))
    }

    @Test func unknownKeysUnderOurPrefixesAreTyposWithASuggestion() throws {
        let error = try #require(throws: PolicyError.self) {
            try AutoscalingAnnotations([k + "min-scael": "0", thaw + "whatever-this-is": "1"])
        }
        let typo = try #require(error.issues.first { $0.key == k + "min-scael" })
        #expect(typo.problem.contains("did you mean \(k)min-scale?"))
        #expect(error.issues.contains { $0.key == thaw + "whatever-this-is" })
    }

    private func expectIssue(key: String, value: String, phrase: String) throws {
        let error = try #require(throws: PolicyError.self) { try AutoscalingAnnotations([key: value]) }
        #expect(error.issues.count == 1, "\(error)")
        let issue = try #require(error.issues.first)
        #expect(issue.key == key)
        #expect(issue.value == value)
        #expect(issue.description.contains(phrase), "\(issue)")
    }
}
