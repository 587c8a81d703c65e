import Autoscaling
import ScalingPolicy
import Testing

/// Reports are pushed once a second, stamped with the end of the second they measured, and the
/// decision tick reads the windows at its own time, up to a second after the newest report's
/// bucket. (Knative's autoscaler scrapes at the tick, so its newest bucket is always the tick's.)
/// A one-bucket panic window (a 6 s stable window at 10 %) then read an empty bucket on most
/// ticks: panic mode could not trigger, and `thaw status` showed 0 rps under steady load.
@Suite struct PushedReportLagTests {
    static func seconds(_ value: Double) -> Timestamp { Timestamp(seconds: 1_750_000_000 + value) }

    @Test(arguments: ["6s", "10s", "19s"])
    func theSmallestPanicWindowStillSeesTheNewestReportAtTheNextTick(window: String) throws {
        let policy = try TargetPolicy(annotations: ["autoscaling.knative.dev/window": window])
        #expect(policy.decider.panicWindow >= .seconds(2), "\(policy.decider.panicWindow)")
        var metrics = MetricAggregator(spec: policy.decider)
        // Steady 100 requests in flight, reported at the end of each second.
        for second in 1...20 { metrics.record(100, for: .concurrency, at: Self.seconds(Double(second))) }
        // The tick comes 0.1 to 0.99 s into the next second, before that second's report.
        for lag in [0.1, 0.5, 0.99] {
            let averages = try #require(metrics.averages(for: .concurrency, at: Self.seconds(21 + lag)))
            #expect(averages.panic == 100, "panic average at \(lag) s past the newest bucket: \(averages.panic)")
        }
    }
}
