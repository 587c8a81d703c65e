import Testing
import Autoscaling

/// The stable and panic windows per signal: Knative's metric `collection`.
@Suite("MetricAggregator")
struct MetricAggregatorTests {
    private func aggregator(stable: Int64 = 60, panic: Int64 = 6,
                            algorithm: AggregationAlgorithm = .linear) -> MetricAggregator {
        MetricAggregator(stableWindow: .seconds(stable), panicWindow: .seconds(panic), algorithm: algorithm)
    }

    @Test("one record feeds both windows; the panic window covers only its last seconds")
    func stableAndPanicWindows() throws {
        var metrics = aggregator()
        let values: [Double] = [10, 10, 10, 10, 40, 40, 40, 40, 40, 40]
        for (i, value) in values.enumerated() {
            metrics.record(value, for: .concurrency, at: ts(Double(i)))
        }
        let averages = try #require(metrics.averages(for: .concurrency, at: ts(9)))
        #expect(averages.stable == 28)      // (4·10 + 6·40) / 10, a partial stable window
        #expect(averages.panic == 40)       // the last 6 seconds
    }

    @Test("reports from several sources in the same second are added")
    func sourcesAreSummed() throws {
        var metrics = aggregator()
        metrics.record(3, for: .concurrency, at: ts(0.25))   // e.g. an activator
        metrics.record(4, for: .concurrency, at: ts(0.75))   // e.g. the scraped replicas
        let averages = try #require(metrics.averages(for: .concurrency, at: ts(0.75)))
        #expect(averages == WindowAverages(stable: 7, panic: 7))
    }

    @Test("a request stat records concurrency and rps minus what the activator already reported")
    func requestStatSubtractsProxied() throws {
        var metrics = aggregator()
        metrics.record(RequestStat(averageConcurrency: 12, requestCount: 30,
                                   averageProxiedConcurrency: 5, proxiedRequestCount: 10), at: ts(0))
        let concurrency = try #require(metrics.averages(for: .concurrency, at: ts(0)))
        let rps = try #require(metrics.averages(for: .rps, at: ts(0)))
        #expect(concurrency == WindowAverages(stable: 7, panic: 7))
        #expect(rps == WindowAverages(stable: 20, panic: 20))
    }

    @Test("an activator stat plus the non-proxied part of a replica stat give the total")
    func activatorPlusReplicaStats() throws {
        var metrics = aggregator()
        // The activator reports the 3 requests it proxies; the replicas see 5, of which 3 proxied.
        metrics.record(RequestStat(averageConcurrency: 3, requestCount: 3), at: ts(0))
        metrics.record(RequestStat(averageConcurrency: 5, requestCount: 8,
                                   averageProxiedConcurrency: 3, proxiedRequestCount: 3), at: ts(0.5))
        #expect(metrics.averages(for: .concurrency, at: ts(0.5))?.stable == 5)
        #expect(metrics.averages(for: .rps, at: ts(0.5))?.stable == 8)
    }

    @Test("signals are kept apart, and a new signal needs no changes")
    func signalsAreIndependent() throws {
        var metrics = aggregator()
        let gpu = MetricKind("gpu-utilization")
        metrics.record(10, for: .concurrency, at: ts(0))
        metrics.record(0.5, for: gpu, at: ts(0))
        #expect(metrics.averages(for: .concurrency, at: ts(0))?.stable == 10)
        #expect(metrics.averages(for: gpu, at: ts(0))?.stable == 0.5)
        #expect(metrics.averages(for: .rps, at: ts(0)) == nil)
    }

    @Test("no averages for a signal never recorded or silent for more than the stable window")
    func noData() {
        var metrics = aggregator()
        #expect(metrics.averages(for: .concurrency, at: ts(0)) == nil)
        metrics.record(10, for: .concurrency, at: ts(0))
        #expect(metrics.averages(for: .concurrency, at: ts(60.75)) == WindowAverages(stable: 0, panic: 0))
        #expect(metrics.averages(for: .concurrency, at: ts(61)) == nil)
    }

    @Test("the panic window goes stale before the stable window", arguments: [
        (5.0, 10.0, 10.0),
        (6, 10, 0),         // now - lastWrite = panic window
        (59, 10, 0),
        (60, 0, 0),
    ] as [(Double, Double, Double)])
    func panicGoesStaleFirst(now: Double, stable: Double, panic: Double) {
        var metrics = aggregator()
        metrics.record(10, for: .concurrency, at: ts(0))
        #expect(metrics.averages(for: .concurrency, at: ts(now)) == WindowAverages(stable: stable, panic: panic))
    }

    @Test("the weighted algorithm applies to both windows, each with its own coefficient")
    func weightedAlgorithm() throws {
        var metrics = aggregator(stable: 10, panic: 5, algorithm: .weightedExponential)
        metrics.record(100, for: .concurrency, at: ts(0))
        let averages = try #require(metrics.averages(for: .concurrency, at: ts(0)))
        #expect(isClose(averages.stable, 60.18928294465071))   // 100 · (1 - 10^-0.4)
        #expect(isClose(averages.panic, 84.15106807538921))    // 100 · (1 - 10^-0.8)
    }

    @Test("init(spec:) takes the windows and the algorithm from the spec")
    func initFromSpec() throws {
        let spec = DeciderSpec(stableWindow: .seconds(10), panicWindow: .seconds(5), aggregation: .weightedExponential)
        var metrics = MetricAggregator(spec: spec)
        #expect(metrics.stableWindow == .seconds(10))
        #expect(metrics.panicWindow == .seconds(5))
        #expect(metrics.algorithm == .weightedExponential)
        metrics.record(100, for: .concurrency, at: ts(0))
        let averages = try #require(metrics.averages(for: .concurrency, at: ts(0)))
        #expect(isClose(averages.stable, 60.18928294465071))
    }

    @Test("resizing keeps the data that still fits and applies to signals created later")
    func resize() throws {
        var metrics = aggregator(stable: 10, panic: 5)
        for i in 0..<10 { metrics.record(Double(i + 1), for: .concurrency, at: ts(Double(i))) }
        #expect(metrics.averages(for: .concurrency, at: ts(9)) == WindowAverages(stable: 5.5, panic: 8))

        metrics.resize(stableWindow: .seconds(20), panicWindow: .seconds(10), at: ts(9))
        #expect(metrics.stableWindow == .seconds(20))
        #expect(metrics.panicWindow == .seconds(10))
        // Stable: 55 over 10 buckets. Panic: the 5 copied buckets (6...10), firstWrite 4 s back.
        #expect(metrics.averages(for: .concurrency, at: ts(9)) == WindowAverages(stable: 5.5, panic: 8))
        metrics.record(11, for: .concurrency, at: ts(10))
        // Stable 66 / 11; panic (40 + 11) / 6.
        #expect(metrics.averages(for: .concurrency, at: ts(10)) == WindowAverages(stable: 6, panic: 8.5))

        // A signal first seen after the resize gets the new 10 s panic window: still 5 after 8 s.
        metrics.record(5, for: .rps, at: ts(10))
        #expect(metrics.averages(for: .rps, at: ts(18)) == WindowAverages(stable: 5, panic: 5))
    }
}
