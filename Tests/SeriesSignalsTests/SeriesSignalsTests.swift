import Testing
@testable import SeriesSignals

struct ExpositionParserTests {
    static let dcgm = """
        # HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
        # TYPE DCGM_FI_DEV_GPU_UTIL gauge
        DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a1",device="nvidia0",modelName="NVIDIA A100",Hostname="node-1",container="server",namespace="ml",pod="digits-v1-7f9c"} 87
        DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b2",device="nvidia1",modelName="NVIDIA A100",Hostname="node-1"} 0
        http_requests_total{code="200",path="/v2/models/a \\"quoted\\"\\\\x\\n"} 1027 1700000000123

        up 1
        weird_value NaN
        high +Inf
        """

    @Test func readsLabelsValuesAndTimestamps() throws {
        let samples = try ExpositionParser.parse(Self.dcgm)
        #expect(samples.count == 6)
        #expect(samples[0].name == "DCGM_FI_DEV_GPU_UTIL")
        #expect(samples[0].labels["pod"] == "digits-v1-7f9c")
        #expect(samples[0].labels["modelName"] == "NVIDIA A100")
        #expect(samples[0].value == 87)
        #expect(samples[0].timestampMilliseconds == nil)
        #expect(samples[1].labels["pod"] == nil)
        #expect(samples[2].labels["path"] == "/v2/models/a \"quoted\"\\x\n")
        #expect(samples[2].timestampMilliseconds == 1_700_000_000_123)
        #expect(samples[3] == ScrapedSample(name: "up", labels: [:], value: 1))
        #expect(samples[4].value.isNaN)
        #expect(samples[5].value == .infinity)
    }

    @Test(arguments: [
        ("metric{a=\"1 5", "unterminated"),
        ("metric{a=\"1\" 5", "expected , or } after the value of label a"),
        ("metric{a=1} 5", "quoted value for label a"),
        ("metric{a\"1\"} 5", "expected = after label a"),
        ("metric", "has no value"),
        ("metric abc", "not a number"),
        ("metric 1 2 3", "trailing text"),
        ("{a=\"1\"} 5", "expected a metric or label name"),
    ])
    func malformedLinesAreErrorsWithTheirLineNumber(line: String, message: String) {
        do {
            _ = try ExpositionParser.parse("ok 1\n" + line)
            Issue.record("no error for \(line)")
        } catch let failure as ExpositionParser.Failure {
            #expect(failure.line == 2)
            #expect(failure.message.contains(message), "\(failure)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

struct ReplicaLabelsTests {
    @Test func exportedLabelsWinOverTheExportersOwnPod() {
        let labels = ["exported_pod": "digits-v1-7f9c", "exported_namespace": "ml", "pod": "dcgm-exporter-x", "namespace": "gpu-operator"]
        #expect(ReplicaLabels.replica(of: labels) == ReplicaRef(namespace: "ml", pod: "digits-v1-7f9c"))
    }

    @Test func plainPodLabelsAndTheOldScheme() {
        #expect(ReplicaLabels.replica(of: ["pod": "a", "namespace": "ml"]) == ReplicaRef(namespace: "ml", pod: "a"))
        #expect(ReplicaLabels.replica(of: ["pod_name": "b", "pod_namespace": "old"]) == ReplicaRef(namespace: "old", pod: "b"))
    }

    @Test func aGPUNoPodUsesBelongsToNoReplica() {
        #expect(ReplicaLabels.replica(of: ["gpu": "1", "UUID": "GPU-b2"]) == nil)
        #expect(ReplicaLabels.replica(of: ["exported_pod": "", "pod": ""]) == nil)
        // Scraped with honor_labels: false, an idle GPU carries only the exporter's own pod.
        #expect(ReplicaLabels.replica(of: ["pod": "dcgm-exporter-x", "namespace": "gpu-operator"], exporterPods: ["dcgm-exporter-x"]) == nil)
    }
}

struct SeriesReductionTests {
    @Test func gaugeAverageOverTheWindowOnly() {
        let points = [SeriesPoint(0, 100), SeriesPoint(1000, 40), SeriesPoint(2000, 60), SeriesPoint(3000, 80), SeriesPoint(9000, 0)]
        #expect(SeriesReduction.gaugeAverage.value(of: points, from: 1000, to: 3000) == 60)
        #expect(SeriesReduction.gaugeAverage.value(of: points, from: 4000, to: 8000) == nil, "no samples is missing data, not zero")
    }

    @Test func counterRateHandlesResets() {
        // 0 → 10 → 20, restart, 5 → 15: increase 10 + 10 + 5 + 10 = 35 over 4 s.
        let points = [SeriesPoint(0, 0), SeriesPoint(1000, 10), SeriesPoint(2000, 20), SeriesPoint(3000, 5), SeriesPoint(4000, 15)]
        #expect(SeriesReduction.counterRate.value(of: points, from: 0, to: 4000) == 35.0 / 4)
        #expect(SeriesReduction.counterRate.value(of: [SeriesPoint(0, 3)], from: 0, to: 4000) == nil)
    }

    @Test func severalGPUsOfOneReplicaAreSummedOrAveraged() {
        let series = [
            Series(labels: ["exported_pod": "a", "exported_namespace": "ml", "gpu": "0"], points: [SeriesPoint(0, 80), SeriesPoint(1000, 100)]),
            Series(labels: ["exported_pod": "a", "exported_namespace": "ml", "gpu": "1"], points: [SeriesPoint(0, 20), SeriesPoint(1000, 40)]),
            Series(labels: ["exported_pod": "b", "exported_namespace": "ml", "gpu": "2"], points: [SeriesPoint(0, 50)]),
            Series(labels: ["gpu": "3"], points: [SeriesPoint(0, 99)]),
        ]
        let average = ReplicaValues(reduction: .gaugeAverage, combination: .average).values(of: series, from: 0, to: 1000)
        #expect(average == [ReplicaRef(namespace: "ml", pod: "a"): 60, ReplicaRef(namespace: "ml", pod: "b"): 50])
        let sum = ReplicaValues(reduction: .gaugeAverage, combination: .sum).values(of: series, from: 0, to: 1000)
        #expect(sum[ReplicaRef(namespace: "ml", pod: "a")] == 120)
    }
}

/// A page far larger than any exporter's is refused at its limit, not parsed whole every round.
/// (Before, a 500,000-series page stalled the collector: no value, no failure pushed.)
@Suite struct ExpositionPageLimitTests {
    @Test func aPageOverTheSampleLimitIsRefusedAtTheLineThatCrossesIt() throws {
        let lines = (0..<12).map { "DCGM_FI_DEV_GPU_UTIL{gpu=\"\($0)\",pod=\"p\"} 50" }
        let page = "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n" + lines.joined(separator: "\n") + "\n"
        #expect(try ExpositionParser.parse(page, maxSamples: 12).count == 12)
        let failure = try #require(throws: ExpositionParser.Failure.self) { try ExpositionParser.parse(page, maxSamples: 10) }
        #expect(failure.line == 12, "the 11th sample, after the TYPE line")
        #expect(failure.message.contains("more than 10 samples on one page"))
        #expect(ExpositionParser.maxSamples == 100_000)
    }
}
