import Autoscaling
import Testing
@testable import Simulation

@Suite struct SimulationPolicyTests {
    @Test func readsAnnotationsConfigConcurrencyAndSpec() throws {
        let policy = try SimulationPolicy(text: """
            annotations:
              autoscaling.knative.dev/min-scale: 0
              autoscaling.knative.dev/window: 20s
            config:
              max-scale-up-rate: 5
            containerConcurrency: 4
            spec:
              panicThreshold: 3
              reachable: false
            """)
        #expect(policy.target.decider.totalValue == 4)
        #expect(policy.target.decider.maxScaleUpRate == 5)
        #expect(policy.target.decider.stableWindow == .seconds(20))
        #expect(policy.target.decider.panicThreshold == 3)
        #expect(!policy.target.decider.reachable)
        #expect(!policy.target.replicas.reachable)
        #expect(policy.target.replicas.minScale == 0)
    }

    @Test func jsonPoliciesWork() throws {
        let policy = try SimulationPolicy(text: #"{"spec":{"targetValue":7,"metric":"rps","stableWindow":30}}"#)
        #expect(policy.target.decider.targetValue == 7)
        #expect(policy.target.decider.metric == .rps)
        #expect(policy.target.replicas.stableWindow == .seconds(30))
    }

    @Test func invalidAnnotationsAreAllReportedWithTheFile() throws {
        let error = try #require(throws: SimulationError.self) {
            try SimulationPolicy(text: """
                annotations:
                  autoscaling.knative.dev/window: 2s
                  autoscaling.knative.dev/target: "-5"
                """, file: "p.yaml")
        }
        #expect(error.description.hasPrefix("p.yaml: invalid autoscaling policy (2 problems)"))
        #expect(error.description.contains("autoscaling.knative.dev/window: \"2s\""))
        #expect(error.description.contains("autoscaling.knative.dev/target: \"-5\""))
    }

    @Test(arguments: [
        ("colour: blue", "unknown field \"colour\""),
        ("- a list", "must be a map"),
        ("annotations: [1, 2]", "field \"annotations\" must be a map of strings"),
        ("containerConcurrency: -1", "field \"containerConcurrency\" must be a whole number"),
        ("spec: {maxScaleUpRate: 1}", "field \"spec.maxScaleUpRate\" must be greater than 1"),
        ("spec: {aggregation: median}", "field \"spec.aggregation\" must be linear or weighted-exponential"),
        ("annotations: {a: [1]}", "field \"annotations.a\" must be a string"),
        ("key: [unclosed", "is not valid YAML or JSON"),
    ])
    func badPolicyFiles(text: String, message: String) throws {
        let error = try #require(throws: SimulationError.self) { try SimulationPolicy(text: text, file: "p.yaml") }
        #expect(error.description.contains(message), "\(error)")
    }
}

/// Every problem of a policy file at once. (Before, a bad `config` key was the only one reported,
/// and the annotation errors behind it showed up one fix later.)
@Suite struct PolicyProblemsTogetherTests {
    @Test func aBadConfigKeyAndBadAnnotationsAreReportedTogether() {
        #expect {
            _ = try SimulationPolicy(text: """
                config: {stable-window: "forever"}
                annotations: {autoscaling.knative.dev/target: "-3", autoscaling.knative.dev/window: "1ms"}
                """, file: "policy.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("stable-window") && text.contains("autoscaling.knative.dev/target") && text.contains("autoscaling.knative.dev/window")
        }
    }
}
