import Foundation
import MetricSeries
import Testing
import ThawTestSupport

/// Per-target series: the exposition a Prometheus server reads, forgetting a target, and the cost of
/// 10,000 targets.
@Suite struct SeriesFamiliesTests {
    static func sample() -> SeriesFamilies {
        let families = SeriesFamilies()
        families.gauge("thaw_test_ready", help: "Ready replicas.", labels: [("target", "ml/a")]).set(to: 3)
        families.gauge("thaw_test_ready", help: "Ready replicas.", labels: [("target", #"odd"name\path"#)]).set(to: 0.25)
        families.counter("thaw_test_requests_total", help: "Requests.", labels: [("target", "ml/a"), ("code", "200")]).increment(by: 5)
        let latency = families.histogram("thaw_test_latency_seconds", help: "Latency.", labels: [("target", "ml/a")], buckets: [0.1, 1])
        for value in [0.05, 0.5, 0.7, 3] { latency.record(value) }
        return families
    }

    @Test func theExpositionIsPrometheusTextFormat() throws {
        var text = ""
        Self.sample().emit(into: &text)
        #expect(text == #"""
            # HELP thaw_test_ready Ready replicas.
            # TYPE thaw_test_ready gauge
            thaw_test_ready{target="ml/a"} 3
            thaw_test_ready{target="odd\"name\\path"} 0.25
            # HELP thaw_test_requests_total Requests.
            # TYPE thaw_test_requests_total counter
            thaw_test_requests_total{target="ml/a",code="200"} 5
            # HELP thaw_test_latency_seconds Latency.
            # TYPE thaw_test_latency_seconds histogram
            thaw_test_latency_seconds_bucket{target="ml/a",le="0.1"} 1
            thaw_test_latency_seconds_bucket{target="ml/a",le="1"} 3
            thaw_test_latency_seconds_bucket{target="ml/a",le="+Inf"} 4
            thaw_test_latency_seconds_sum{target="ml/a"} 4.25
            thaw_test_latency_seconds_count{target="ml/a"} 4

            """#)
        // Prometheus' own checker reads it.
        let file = try scratchDirectory("series").appendingPathComponent("metrics.txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let checked = try CommandRun.run(["sh", "-c", "promtool check metrics < \(file.path)"])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
    }

    @Test func theSameNameAndLabelsAreTheSameSeries() {
        let families = SeriesFamilies()
        families.counter("c_total", help: "C.", labels: [("target", "a")]).increment()
        families.counter("c_total", help: "C.", labels: [("target", "a")]).increment()
        #expect(families.counter("c_total", help: "C.", labels: [("target", "a")]).value == 2)
    }

    @Test func aForgottenTargetLeavesNoSeries() {
        let families = Self.sample()
        families.forget(label: "target", value: "ml/a")
        var text = ""
        families.emit(into: &text)
        #expect(!text.contains("ml/a"))
        #expect(text.contains(#"thaw_test_ready{target="odd\"name\\path"} 0.25"#), "other targets keep theirs")
        #expect(!text.contains("thaw_test_requests_total"), "a family with no series left is not written")
    }

    @Test func forgettingTenThousandTargetsAtOnceIsOnePass() {
        let families = SeriesFamilies()
        for index in 0..<10_000 {
            for metric in 0..<5 {
                families.gauge("thaw_test_metric_\(metric)", help: "M.", labels: [("target", "team/model-\(index)")]).set(to: 1)
            }
        }
        families.gauge("thaw_test_metric_0", help: "M.", labels: [("subtarget", "team/model-1")]).set(to: 7)
        let started = ContinuousClock.now
        families.forget(label: "target", values: Set((0..<10_000).map { "team/model-\($0)" }))
        #expect(ContinuousClock.now - started < .seconds(5), "\(ContinuousClock.now - started)")
        var text = ""
        families.emit(into: &text)
        #expect(text == "# HELP thaw_test_metric_0 M.\n# TYPE thaw_test_metric_0 gauge\nthaw_test_metric_0{subtarget=\"team/model-1\"} 7\n",
                "only the series of another label stays: \(text.prefix(300))")
    }

    @Test func tenThousandTargetsRegisterInLinearTime() {
        // swift-prometheus' registry copied the label-set table on each new series: 30 s for this.
        let families = SeriesFamilies()
        let started = ContinuousClock.now
        for index in 0..<10_000 {
            for metric in 0..<14 {
                families.gauge("thaw_test_metric_\(metric)", help: "M.", labels: [("target", "team/model-\(index)")]).set(to: 1)
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5), "\(ContinuousClock.now - started)")
    }
}
