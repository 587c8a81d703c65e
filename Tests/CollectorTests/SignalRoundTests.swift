import SeriesSignals
import Testing
import TrafficStats
@testable import Collector

/// What a round sends: a target's value is the sum over its replicas, and anything short of a
/// value is a failure with its reason, never a zero.
@Suite struct SignalRoundTests {
    static func gpu(_ pod: String, gpu: String = "0", _ values: [(Int64, Double)]) -> Series {
        Series(labels: ["__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": gpu, "exported_pod": pod, "exported_namespace": "ml",
                        "pod": "dcgm-exporter-x", "namespace": "gpu-operator"],
               points: values.map { SeriesPoint($0.0, $0.1) })
    }

    @Test func aTargetsValueIsTheSumOverItsReplicasOfTheirCombinedGPUs() throws {
        let definition = try SignalDefinition(target: "llm", selector: "DCGM_FI_DEV_GPU_UTIL", perReplica: .average, window: .seconds(10))
        let series = [
            Self.gpu("llm-0", gpu: "0", [(1_000, 50), (6_000, 70)]),   // 60 on average
            Self.gpu("llm-0", gpu: "1", [(1_000, 20), (6_000, 40)]),   // 30: the pod averages 45
            Self.gpu("llm-1", [(2_000, 90), (9_000, 100)]),            // 95
            Self.gpu("llm-2", [(-5_000, 100)]),                        // before the window: not counted
        ]
        let results = SignalRound.results([definition], outcomes: [.series(series)], endMilliseconds: 10_000)
        #expect(results == [SignalRound.Result(target: "llm", metric: "gpu", value: 140, replicas: 2, failure: nil)])
        let batch = SignalRound.batch(results, timestamp: 10, source: "test")
        #expect(batch.values == [MetricValue(target: "llm", metric: "gpu", value: 140, timestamp: 10, source: "test")])
        #expect(batch.failures.isEmpty)
    }

    @Test func readFailuresEmptySelectionsAndUnmappedSeriesAreFailuresNotZero() throws {
        let definitions = try ["a", "b", "c"].map { try SignalDefinition(target: $0, selector: "DCGM_FI_DEV_GPU_UTIL{x=\"\($0)\"}") }
        let idle = Series(labels: ["__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "3"], points: [SeriesPoint(9_000, 0)])
        let results = SignalRound.results(definitions, outcomes: [.failed("cannot reach http://p: refused"), .series([]), .series([idle])],
                                          endMilliseconds: 10_000)
        #expect(results.allSatisfy { $0.value == nil })
        #expect(results[0].failure == "cannot reach http://p: refused")
        #expect(results[1].failure?.contains("no series selected by DCGM_FI_DEV_GPU_UTIL{x=\"b\"}") == true)
        #expect(results[2].failure?.contains("1 series selected") == true)
        #expect(results.map(\.empty) == [false, true, true], "only the source's own failure is not an empty answer")
        let batch = SignalRound.batch(results, timestamp: 10, source: "test")
        #expect(batch.values.isEmpty)
        #expect(batch.failures.map(\.target) == ["a", "b", "c"])
        #expect(batch.failures[0].reason == "cannot reach http://p: refused")
        #expect(batch.failures.map(\.empty) == [false, true, true])
    }
}
