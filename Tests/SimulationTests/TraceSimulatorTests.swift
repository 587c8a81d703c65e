import Autoscaling
import Testing
@testable import Simulation

@Suite struct TraceSimulatorTests {
    private func run(_ trace: String, policy: String = "") throws -> [String] {
        let events = try TraceEvent.parse(trace, file: "trace.jsonl")
        return try TraceSimulator(policy: try SimulationPolicy(text: policy), file: "trace.jsonl").run(events).map(\.jsonLine)
    }

    @Test func decidesFromRecordedWindows() throws {
        let lines = try run("""
            {"t":0,"event":"create","ready":1}
            {"t":0,"event":"stat","concurrency":10,"requests":20}
            {"t":1,"event":"stat","concurrency":30,"requests":60}
            {"t":2,"event":"decide","ready":1}
            {"t":3,"event":"stat","concurrency":250,"requests":500}
            {"t":4,"event":"decide","ready":1}
            """)
        // Stable at t=2: (10 + 30) over the 2 written seconds = 20; ceil(20 / 70) = 1; EBC = floor(100 - 211 - 20).
        #expect(lines[0] == #"{"t":2,"desired":1,"excessBurstCapacity":-131,"panicking":false,"stable":20,"panic":20}"#)
        // At t=4: 290 over 4 seconds = 72.5; ceil(72.5 / 70) = 2 and 2 / 1 ready >= 2 enters panic.
        #expect(lines[1] == #"{"t":4,"desired":2,"excessBurstCapacity":-184,"panicking":true,"stable":72.5,"panic":72.5}"#)
    }

    @Test func givenAveragesAndUpdates() throws {
        let lines = try run("""
            {"t":0,"event":"create","ready":0}
            {"t":2,"event":"decide","ready":4,"stable":140,"panic":70}
            {"t":4,"event":"update","spec":{"reachable":false,"maxScaleDownRate":4}}
            {"t":4,"event":"decide","ready":4,"stable":0,"panic":0}
            """, policy: "spec: {targetBurstCapacity: 0}")
        #expect(lines[0] == #"{"t":2,"desired":2,"excessBurstCapacity":0,"panicking":false,"stable":140,"panic":70}"#)
        // Unreachable: no scale-down floor, so the desired count drops straight to 0.
        #expect(lines[1] == #"{"t":4,"desired":0,"excessBurstCapacity":0,"panicking":false,"stable":0,"panic":0}"#)
    }

    @Test func noDataIsReportedNotInvented() throws {
        let lines = try run("""
            {"t":0,"event":"create","ready":1}
            {"t":2,"event":"decide","ready":1}
            """)
        #expect(lines == [#"{"t":2,"desired":null,"excessBurstCapacity":null,"panicking":false,"stable":null,"panic":null,"error":"no data in the stable window; no decision taken"}"#])
    }

    @Test func policyAnnotationsShapeTheDecision() throws {
        let lines = try run("""
            {"t":0,"event":"create","ready":1}
            {"t":0.5,"event":"stat","requests":30}
            {"t":1,"event":"decide","ready":1}
            """, policy: """
            annotations:
              autoscaling.knative.dev/metric: rps
              autoscaling.knative.dev/target: 10
            """)
        // rps target 10 x 0.7 = 7; ceil(30 / 7) = 5, capped by nothing; 5 / 1 >= 2 panics.
        #expect(lines == [#"{"t":1,"desired":5,"excessBurstCapacity":-231,"panicking":true,"stable":30,"panic":30}"#])
    }

    @Test func startsInPanicWithSeveralReadyReplicas() throws {
        let lines = try run("""
            {"t":0,"event":"create","ready":5}
            {"t":2,"event":"decide","ready":5,"stable":0,"panic":0}
            {"t":62,"event":"decide","ready":5,"stable":0,"panic":0}
            """)
        #expect(lines[0].contains(#""desired":5"#) && lines[0].contains(#""panicking":true"#))
        #expect(lines[1].contains(#""desired":2"#) && lines[1].contains(#""panicking":false"#), "5 / 2 = 2 after panic ends")
    }

    @Test(arguments: [
        (#"{"t":0,"event":"explode"}"#, "trace.jsonl:1: unknown event \"explode\""),
        (#"{"event":"create"}"#, "trace.jsonl:1: missing field \"t\""),
        (#"{"t":-1,"event":"create"}"#, "field \"t\" must be from 0 to 1000000000 seconds"),
        (#"{"t":1e10,"event":"create"}"#, "field \"t\" must be from 0 to 1000000000 seconds, got 10000000000"),
        (#"{"t":0,"event":"update","spec":{"metric":"cpu"}}"#, "field \"spec.metric\" must be one of: concurrency, rps"),
        (#"{"t":0,"event":"stat","concurrency":1"#, "trace.jsonl:1: not a JSON object"),
        (#"{"t":0,"event":"decide"}"#, "missing field \"ready\""),
        (#"{"t":0,"event":"decide","ready":1.5}"#, "field \"ready\" must be a whole number"),
        (#"{"t":0,"event":"decide","ready":1,"stable":3}"#, "give both \"stable\" and \"panic\""),
        (#"{"t":0,"event":"stat"}"#, "needs \"concurrency\" or \"requests\""),
        (#"{"t":0,"event":"stat","concurrency":"many"}"#, "field \"concurrency\" must be a number"),
        (#"{"t":0,"event":"stat","concurrency":-1}"#, "field \"concurrency\" must be at least 0"),
        (#"{"t":0,"event":"create","readdy":1}"#, "unknown field \"readdy\""),
        (#"{"t":0,"event":"update","spec":{"stableWindow":0}}"#, "field \"spec.stableWindow\" must be whole seconds"),
        (#"{"t":0,"event":"update","spec":{"targetValue":0}}"#, "field \"spec.targetValue\" must be greater than 0"),
        (#"{"t":0,"event":"update","spec":{"reachable":"no"}}"#, "field \"spec.reachable\" must be true or false"),
        (#"{"t":0,"event":"update","spec":{"colour":1}}"#, "unknown field \"spec.colour\""),
        ("not json at all", "trace.jsonl:1: not a JSON object"),
    ])
    func badLinesNameTheLineAndTheField(line: String, message: String) throws {
        let error = try #require(throws: SimulationError.self) { _ = try run(line) }
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func aggregationCannotChangeMidTrace() throws {
        let error = try #require(throws: SimulationError.self) {
            _ = try run("""
                {"t":0,"event":"create","ready":1}
                {"t":1,"event":"update","spec":{"aggregation":"weighted-exponential"}}
                """)
        }
        #expect(error.line == 2)
        #expect(error.message.contains("spec.aggregation"))
    }

    @Test func errorsCarryTheRightLineNumber() throws {
        let error = try #require(throws: SimulationError.self) {
            _ = try run("""
                # a comment
                {"t":0,"event":"create","ready":1}

                {"t":1,"event":"decide"}
                """)
        }
        #expect(error.line == 4)
    }

    @Test func decideBeforeCreateAndDoubleCreateAreErrors() throws {
        let early = try #require(throws: SimulationError.self) { _ = try run(#"{"t":0,"event":"decide","ready":1}"#) }
        #expect(early.message.contains("decide before create"))
        let twice = try #require(throws: SimulationError.self) {
            _ = try run("{\"t\":0,\"event\":\"create\"}\n{\"t\":1,\"event\":\"create\"}")
        }
        #expect(twice.line == 2)
    }
}
