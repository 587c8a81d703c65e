import Autoscaling
import Testing
@testable import ScalingPolicy

/// GPU utilization as the metric, or as a second signal next to concurrency or rps.
@Suite struct GPUPolicyTests {
    @Test func gpuAsTheMetricTakesTheTargetAsAPercentage() throws {
        let defaulted = try TargetPolicy(annotations: ["autoscaling.knative.dev/metric": "gpu"])
        #expect(defaulted.decider.metric == .gpu)
        #expect(defaulted.decider.targetValue == TargetPolicy.gpuTargetDefault)
        #expect(defaulted.secondary == nil)
        let set = try TargetPolicy(annotations: ["autoscaling.knative.dev/metric": "gpu", "autoscaling.knative.dev/target": "55"])
        #expect(set.decider.targetValue == 55, "no extra utilization factor on a utilization target")
    }

    @Test func gpuTargetAddsASecondSignal() throws {
        let policy = try TargetPolicy(annotations: ["autoscaling.thaw.dev/gpu-target": "60", "autoscaling.knative.dev/target": "10"])
        #expect(policy.decider.metric == .concurrency)
        let secondary = try #require(policy.secondary)
        #expect(secondary.metric == .gpu)
        #expect(secondary.targetValue == 60)
        #expect(secondary.stableWindow == policy.decider.stableWindow)
    }

    @Test func fallbackAnnotationsBecomeTheTargetsFallback() throws {
        let defaulted = try TargetPolicy(annotations: ["autoscaling.knative.dev/metric": "gpu", "autoscaling.thaw.dev/fallback-replicas": "4"])
        #expect(defaulted.fallback == SignalFallback(replicas: 4, afterFailures: SignalFallback.defaultAfterFailures))
        let set = try TargetPolicy(annotations: ["autoscaling.thaw.dev/gpu-target": "60", "autoscaling.thaw.dev/fallback-replicas": "2",
                                                 "autoscaling.thaw.dev/fallback-after-failures": "5"])
        #expect(set.fallback == SignalFallback(replicas: 2, afterFailures: 5))
        #expect(try TargetPolicy(annotations: ["autoscaling.knative.dev/metric": "gpu"]).fallback == nil)
    }

    @Test(arguments: [
        (["autoscaling.thaw.dev/gpu-target": "0"], "out of range"),
        (["autoscaling.thaw.dev/gpu-target": "150"], "out of range"),
        (["autoscaling.knative.dev/metric": "gpu", "autoscaling.thaw.dev/gpu-target": "50"], "second signal"),
        (["autoscaling.knative.dev/metric": "gpu", "autoscaling.knative.dev/target": "300"], "utilization percentage"),
        (["autoscaling.thaw.dev/fallback-replicas": "3"], "applies only to a signal the collector reads"),
        (["autoscaling.knative.dev/metric": "gpu", "autoscaling.thaw.dev/fallback-replicas": "-1"], "0 or more"),
        (["autoscaling.knative.dev/metric": "gpu", "autoscaling.thaw.dev/fallback-replicas": "2",
          "autoscaling.thaw.dev/fallback-after-failures": "0"], "1 or more"),
        (["autoscaling.knative.dev/metric": "gpu", "autoscaling.thaw.dev/fallback-after-failures": "2"], "no effect without"),
    ])
    func badGPUSettingsNameTheKey(annotations: [String: String], problem: String) {
        #expect {
            _ = try TargetPolicy(annotations: annotations)
        } throws: { error in
            "\(error)".contains(problem)
        }
    }
}
