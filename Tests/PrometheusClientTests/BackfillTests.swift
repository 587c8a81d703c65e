import ThawTestSupport
import Foundation
import PrometheusClient
import RemoteReadCodec
import SeriesSignals
import Testing

/// Fixed history for a real Prometheus, backfilled with promtool: GPU utilization under every label
/// scheme dcgm-exporter and Prometheus produce, and request counters that restart. Every expected
/// value in the tests is computed from these series, never written down.
enum History {
    static let firstSecond: Int64 = 1_750_000_000
    static let stepSeconds: Int64 = 15
    /// 75 minutes of samples: they cross a 2-hour block boundary (at first + 3200 s), and each block
    /// holds more than one 120-sample chunk of a series, so reads join chunks and blocks.
    static let sampleCount = 300
    static let gpuMetric = "DCGM_FI_DEV_GPU_UTIL"
    static let counterMetric = "thaw_requests_total"
    /// The dcgm-exporter pod Prometheus scraped: `pod` names it on series scraped with `honor_labels: false`.
    static let exporterPod = "nvidia-dcgm-exporter-7xk2p"

    struct Generated: Sendable {
        /// Without `__name__`.
        var labels: [String: String]
        /// The pod the series belongs to; nil for an idle GPU.
        var replica: ReplicaRef?
        var points: [SeriesPoint]
        /// Counters: what was counted between the previous sample and this one (a restart loses none of it).
        var increments: [Double] = []
        /// Counters: the sample indexes at which the counter restarted from zero.
        var resets: [Int] = []
    }

    /// Sample `index`'s time in milliseconds; negative indexes are before the data.
    static func milliseconds(_ index: Int) -> Int64 { (firstSecond + Int64(index) * stepSeconds) * 1000 }

    static let gpus: [Generated] = {
        let scrapedFromExporter = ["pod": exporterPod, "namespace": "gpu-operator", "job": "dcgm", "instance": "10.0.0.7:9400",
                                   "Hostname": "node-a", "modelName": "NVIDIA A100 80GB PCIe"]
        let digitsA = ReplicaRef(namespace: "ml", pod: "digits-v1-a")
        let layouts: [(labels: [String: String], replica: ReplicaRef?, firstIndex: Int)] = [
            // Scraped with honor_labels: false (the Helm chart's default): the workload's labels became exported_*.
            (scrapedFromExporter.merging(["gpu": "0", "UUID": "GPU-0a", "exported_pod": "digits-v1-a", "exported_namespace": "ml",
                                          "exported_container": "model"]) { $1 }, digitsA, 0),
            (scrapedFromExporter.merging(["gpu": "1", "UUID": "GPU-1a", "exported_pod": "digits-v1-a", "exported_namespace": "ml",
                                          "exported_container": "model"]) { $1 }, digitsA, 0),
            // Scraped with honor_labels: true: pod and namespace are the workload's.
            (["gpu": "0", "UUID": "GPU-0b", "Hostname": "node-b", "pod": "digits-v1-b", "namespace": "ml", "container": "model", "job": "dcgm"],
             ReplicaRef(namespace: "ml", pod: "digits-v1-b"), 0),
            // The exporter's old-namespace mode; this pod started 20 samples late.
            (["gpu": "0", "uuid": "GPU-0c", "Hostname": "node-c", "pod_name": "digits-v1-c", "pod_namespace": "ml", "container_name": "model"],
             ReplicaRef(namespace: "ml", pod: "digits-v1-c"), 20),
            // A GPU no pod uses: only the scrape target's labels, naming the exporter's own pod.
            (scrapedFromExporter.merging(["gpu": "2", "UUID": "GPU-2a"]) { $1 }, nil, 0),
        ]
        return layouts.enumerated().map { series, layout in
            Generated(labels: layout.labels, replica: layout.replica, points: (layout.firstIndex..<sampleCount).map { index in
                // Quarter percents: exact in text, in float64 and in XOR chunks.
                SeriesPoint(milliseconds(index), Double((17 * index + 41 * series) % 401) / 4)
            })
        }
    }()

    static let counters: [Generated] = [
        counter(["pod": "digits-v1-a", "namespace": "ml", "job": "digits"], ReplicaRef(namespace: "ml", pod: "digits-v1-a"), seed: 0, resets: [90, 214]),
        counter(["pod": "digits-v1-b", "namespace": "ml", "job": "digits"], ReplicaRef(namespace: "ml", pod: "digits-v1-b"), seed: 1, resets: []),
    ]

    /// A counter already running when the data starts, restarting from zero at `resets`.
    static func counter(_ labels: [String: String], _ replica: ReplicaRef, seed: Int, resets: [Int]) -> Generated {
        var value = Double(1000 + seed)
        var series = Generated(labels: labels, replica: replica, points: [SeriesPoint(milliseconds(0), value)],
                               increments: [0], resets: resets)
        for index in 1..<sampleCount {
            let increment = Double((7 * index + 3 * seed) % 11 + 1)
            value = resets.contains(index) ? increment : value + increment
            series.points.append(SeriesPoint(milliseconds(index), value))
            series.increments.append(increment)
        }
        return series
    }

    /// The promtool input: OpenMetrics with timestamps in seconds; a counter family is declared
    /// without `_total`, its samples carry it.
    static var openMetrics: String {
        func lines(_ series: [Generated], _ name: String) -> [String] {
            series.flatMap { one in
                let labels = one.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
                return one.points.map { "\(name){\(labels)} \($0.value) \($0.timestampMilliseconds / 1000)" }
            }
        }
        let text = ["# HELP \(gpuMetric) GPU utilization (in %).", "# TYPE \(gpuMetric) gauge"] + lines(gpus, gpuMetric)
            + ["# HELP thaw_requests Requests served.", "# TYPE thaw_requests counter"] + lines(counters, counterMetric) + ["# EOF"]
        return text.joined(separator: "\n") + "\n"
    }

    /// What a read of `series` from sample `first` to sample `last` (both included) must return, by
    /// labels: the generated samples in that range, labelled with the metric name; series without
    /// any sample there are absent.
    static func expected(_ series: [Generated], _ metric: String, _ first: Int, _ last: Int) -> [[String: String]: [SeriesPoint]] {
        var result: [[String: String]: [SeriesPoint]] = [:]
        for one in series {
            let points = one.points.filter { $0.timestampMilliseconds >= milliseconds(first) && $0.timestampMilliseconds <= milliseconds(last) }
            if !points.isEmpty { result[one.labels.merging(["__name__": metric]) { $1 }] = points }
        }
        return result
    }
}

/// Remote read against a real Prometheus holding known history, checked three ways: against the
/// generated data, against Prometheus' own query API, and between the two response modes; then the
/// per-replica reductions over what was read.
@Suite(.serialized)
struct BackfillTests {
    /// Series by labels; a series the read returned twice would show as doubled samples.
    static func byLabels(_ series: [Series]) -> [[String: String]: [SeriesPoint]] {
        Dictionary(series.map { ($0.labels, $0.points) }, uniquingKeysWith: +)
    }

    /// A `query_range` answer's series by labels, times in milliseconds.
    static func rangeSeries(_ data: [String: Any]) throws -> [[String: String]: [SeriesPoint]] {
        let result = try #require(data["result"] as? [[String: Any]])
        var series: [[String: String]: [SeriesPoint]] = [:]
        for one in result {
            let labels = try #require(one["metric"] as? [String: String])
            let values = try #require(one["values"] as? [[Any]])
            series[labels] = try values.map { pair in
                let time = try #require(pair.first as? Double), text = try #require(pair.last as? String)
                return SeriesPoint(Int64((time * 1000).rounded()), try #require(Double(text)))
            }
        }
        return series
    }

    /// An instant query's answer by labels (functions drop `__name__`).
    static func vector(_ data: [String: Any]) throws -> [[String: String]: Double] {
        let result = try #require(data["result"] as? [[String: Any]])
        var values: [[String: String]: Double] = [:]
        for one in result {
            let labels = try #require(one["metric"] as? [String: String])
            let text = try #require((one["value"] as? [Any])?.last as? String)
            let value = try #require(Double(text))
            values[labels] = value
        }
        return values
    }

    /// Different summation orders (Prometheus', the reduction's, the test's) may differ in the last bits.
    static func close(_ a: Double?, _ b: Double?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
    }

    static func query(_ selector: String, _ first: Int, _ last: Int) throws -> ReadQuery {
        ReadQuery(matchers: try SeriesSelector.parse(selector), startMilliseconds: History.milliseconds(first), endMilliseconds: History.milliseconds(last))
    }

    @Test func remoteReadInBothModesReturnsTheSamplesQueryRangeReturns() async throws {
        let prometheus = try await PrometheusServer(backfill: History.openMetrics, scrapesItself: false)
        let client = RemoteReadClient(baseURL: prometheus.url)
        let selections: [(selector: String, series: [History.Generated], metric: String)] = [
            (History.gpuMetric, History.gpus, History.gpuMetric),
            (History.counterMetric, History.counters, History.counterMetric),
            (#"DCGM_FI_DEV_GPU_UTIL{exported_pod!=""}"#, History.gpus.filter { $0.labels["exported_pod"] != nil }, History.gpuMetric),
            (#"{__name__=~"DCGM_.*|thaw_.*", pod_name=~"digits-.*"}"#, History.gpus.filter { $0.labels["pod_name"] != nil }, History.gpuMetric),
        ]
        // All the data; a range across the block boundary; a range before the late pod's first sample.
        for (first, last) in [(0, History.sampleCount - 1), (100, 250), (0, 10)] {
            for selection in selections {
                let query = try Self.query(selection.selector, first, last)
                let chunks = try client.read([query], preferChunks: true)
                let samples = try client.read([query], preferChunks: false)
                let context = Comment(rawValue: "\(selection.selector) from sample \(first) to \(last)")
                #expect(chunks.mode == .chunks, context)
                #expect(samples.mode == .samples, context)
                #expect(chunks.results == samples.results, context)
                let read = Self.byLabels(try #require(samples.results.first))
                #expect(read == History.expected(selection.series, selection.metric, first, last), context)
                // A step equal to the sample interval, ends on samples: one point per sample, no lookback points.
                let api = try Self.rangeSeries(prometheus.queryRange(
                    selection.selector, start: Double(History.milliseconds(first)) / 1000, end: Double(History.milliseconds(last)) / 1000,
                    step: Double(History.stepSeconds)))
                #expect(read == api, context)
            }
        }
    }

    @Test func oneRequestCarriesSeveralQueriesWithTheirOwnRanges() async throws {
        let prometheus = try await PrometheusServer(backfill: History.openMetrics, scrapesItself: false)
        let client = RemoteReadClient(baseURL: prometheus.url)
        let queries = [
            try Self.query(#"DCGM_FI_DEV_GPU_UTIL{exported_pod!=""}"#, 0, History.sampleCount - 1),
            try Self.query(History.counterMetric, 50, 120),
            try Self.query("thaw_no_such_metric", 0, History.sampleCount - 1),
        ]
        for preferChunks in [true, false] {
            let together = try client.read(queries, preferChunks: preferChunks).results
            try #require(together.count == queries.count)
            for (index, query) in queries.enumerated() {
                #expect(together[index] == (try client.read([query], preferChunks: preferChunks).results.first), "query \(index)")
            }
            #expect(Self.byLabels(together[0]) == History.expected(History.gpus.filter { $0.labels["exported_pod"] != nil }, History.gpuMetric, 0, History.sampleCount - 1))
            #expect(Self.byLabels(together[1]) == History.expected(History.counters, History.counterMetric, 50, 120))
            #expect(together[2].isEmpty)
        }
    }

    @Test func gaugeAveragesPerReplicaFollowEveryLabelScheme() async throws {
        let prometheus = try await PrometheusServer(backfill: History.openMetrics, scrapesItself: false)
        let read = try RemoteReadClient(baseURL: prometheus.url).read([try Self.query(History.gpuMetric, 0, History.sampleCount - 1)]).results[0]
        try #require(read.count == History.gpus.count)
        let exporter = ReplicaRef(namespace: "gpu-operator", pod: History.exporterPod)
        // A window of all pods; one before the late pod started; one before any data.
        for (first, last) in [(100, 140), (0, 10), (-40, -1)] {
            let start = History.milliseconds(first), end = History.milliseconds(last)
            var averages: [ReplicaRef: [Double]] = [:]
            for series in History.gpus {
                let values = series.points.filter { $0.timestampMilliseconds >= start && $0.timestampMilliseconds <= end }.map(\.value)
                guard let replica = series.replica, !values.isEmpty else { continue }
                averages[replica, default: []].append(values.reduce(0, +) / Double(values.count))
            }
            for combination in ReplicaCombination.allCases {
                let values = ReplicaValues(reduction: .gaugeAverage, combination: combination, exporterPods: [History.exporterPod])
                    .values(of: read, from: start, to: end)
                let expected = averages.mapValues { combination == .sum ? $0.reduce(0, +) : $0.reduce(0, +) / Double($0.count) }
                let context = Comment(rawValue: "\(combination) from sample \(first) to \(last)")
                #expect(Set(values.keys) == Set(expected.keys), context)
                for (replica, value) in expected {
                    #expect(Self.close(values[replica], value), "\(replica): \(String(describing: values[replica])) vs \(value); \(context)")
                }
                #expect(values[exporter] == nil, "the idle GPU is no replica; \(context)")
            }
            // Told nothing of the exporter, the idle GPU reads as the exporter's own pod.
            let naive = ReplicaValues(reduction: .gaugeAverage, combination: .sum).values(of: read, from: start, to: end)
            #expect((naive[exporter] != nil) == (first >= 0), "from sample \(first) to \(last)")

            // Prometheus' own average of each series over the same closed range.
            let seconds = (last - first) * Int(History.stepSeconds)
            let api = try Self.vector(prometheus.query("avg_over_time(\(History.gpuMetric)[\(seconds)s])", at: Double(end) / 1000))
            var reduced: [[String: String]: Double] = [:]
            for series in read {
                reduced[series.labels.filter { $0.key != "__name__" }] = SeriesReduction.gaugeAverage.value(of: series.points, from: start, to: end)
            }
            #expect(Set(reduced.keys) == Set(api.keys), "from sample \(first) to \(last)")
            for (labels, value) in api {
                #expect(Self.close(reduced[labels], value), "\(labels): \(String(describing: reduced[labels])) vs Prometheus' \(value)")
            }
        }
    }

    @Test func counterRatesCountAcrossRestarts() async throws {
        let prometheus = try await PrometheusServer(backfill: History.openMetrics, scrapesItself: false)
        let read = try RemoteReadClient(baseURL: prometheus.url).read([try Self.query(History.counterMetric, 0, History.sampleCount - 1)]).results[0]
        try #require(read.count == History.counters.count)
        // Both restarts inside; none; a restart on the window's first sample (nothing to count before it);
        // the second block only.
        for (first, last) in [(80, 220), (100, 200), (90, 150), (214, History.sampleCount - 1)] {
            let start = History.milliseconds(first), end = History.milliseconds(last)
            let seconds = (last - first) * Int(History.stepSeconds)
            let at = Double(end) / 1000
            // Samples lie on both ends of the closed range, so Prometheus extrapolates nothing here.
            let increases = try Self.vector(prometheus.query("increase(\(History.counterMetric)[\(seconds)s])", at: at))
            let rates = try Self.vector(prometheus.query("rate(\(History.counterMetric)[\(seconds)s])", at: at))
            let resets = try Self.vector(prometheus.query("resets(\(History.counterMetric)[\(seconds)s])", at: at))
            var expectedPerReplica: [ReplicaRef: Double] = [:]
            for counter in History.counters {
                let context = Comment(rawValue: "\(counter.labels) from sample \(first) to \(last)")
                let series = try #require(read.first { $0.labels == counter.labels.merging(["__name__": History.counterMetric]) { $1 } }, context)
                let increase = counter.increments[(first + 1)...last].reduce(0, +)
                let rate = increase / Double(seconds)
                let value = SeriesReduction.counterRate.value(of: series.points, from: start, to: end)
                #expect(Self.close(value, rate), "\(String(describing: value)) vs \(rate); \(context)")
                #expect(Self.close(increases[counter.labels], increase), "Prometheus' increase; \(context)")
                #expect(Self.close(rates[counter.labels], rate), "Prometheus' rate; \(context)")
                #expect(resets[counter.labels] == Double(counter.resets.filter { $0 > first && $0 <= last }.count), context)
                if let replica = counter.replica { expectedPerReplica[replica] = rate }
            }
            let perReplica = ReplicaValues(reduction: .counterRate, combination: .sum).values(of: read, from: start, to: end)
            #expect(Set(perReplica.keys) == Set(expectedPerReplica.keys))
            for (replica, rate) in expectedPerReplica {
                #expect(Self.close(perReplica[replica], rate), "\(replica)")
            }
        }
    }

    @Test func aWindowWithoutEnoughSamplesHasNoValue() async throws {
        let prometheus = try await PrometheusServer(backfill: History.openMetrics, scrapesItself: false)
        let client = RemoteReadClient(baseURL: prometheus.url)
        let read = try client.read([try Self.query(History.counterMetric, 0, History.sampleCount - 1),
                                    try Self.query(History.gpuMetric, 0, History.sampleCount - 1)])
        let counters = read.results[0], gpus = read.results[1]
        try #require(counters.count == History.counters.count && gpus.count == History.gpus.count)
        let before = (History.milliseconds(-40), History.milliseconds(-1))
        let oneSample = (History.milliseconds(90), History.milliseconds(90))
        for series in counters {
            #expect(SeriesReduction.counterRate.value(of: series.points, from: before.0, to: before.1) == nil)
            // One sample is no rate, whatever its value.
            #expect(SeriesReduction.counterRate.value(of: series.points, from: oneSample.0, to: oneSample.1) == nil)
            #expect(SeriesReduction.gaugeAverage.value(of: series.points, from: oneSample.0, to: oneSample.1)
                    == series.points.first { $0.timestampMilliseconds == oneSample.0 }?.value)
        }
        for series in gpus {
            #expect(SeriesReduction.gaugeAverage.value(of: series.points, from: before.0, to: before.1) == nil)
        }
        #expect(ReplicaValues(reduction: .counterRate, combination: .sum).values(of: counters, from: oneSample.0, to: oneSample.1).isEmpty)
        #expect(ReplicaValues(reduction: .gaugeAverage, combination: .average).values(of: gpus, from: before.0, to: before.1).isEmpty)
        // The late pod's GPU has samples, but none in its first 20 steps.
        let late = try #require(gpus.first { $0.labels["pod_name"] != nil })
        #expect(SeriesReduction.gaugeAverage.value(of: late.points, from: History.milliseconds(0), to: History.milliseconds(10)) == nil)
        #expect(SeriesReduction.gaugeAverage.value(of: late.points, from: History.milliseconds(0), to: History.milliseconds(30)) != nil)
        // Prometheus reads the same windows as empty.
        #expect(try client.read([try Self.query(History.counterMetric, -40, -1)]).results == [[]])
    }
}
