import Foundation
import Testing
import ActivatorCore
import TrafficStats

@Suite struct ConcurrencyMeterTests {
    @Test func averagesOverTimeNotAtTheReportInstant() {
        var meter = ConcurrencyMeter(now: 100)
        meter.started(at: 100)
        meter.finished(at: 100.5)
        #expect(meter.current == 0)
        let period = meter.report(at: 101)
        #expect(period.averageConcurrency == 0.5)
        #expect(period.requestCount == 1)
        #expect(!period.isIdle)
    }

    @Test func overlappingRequestsAddUp() {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(at: 0)       // A: 0 ..< 1
        meter.started(at: 0.5)     // B: 0.5 ..< 2
        #expect(meter.current == 2)
        meter.finished(at: 1)      // A
        meter.started(at: 1.5)     // C: 1.5 ..< 1.75
        #expect(meter.current == 2)
        meter.finished(at: 1.75)   // C
        meter.finished(at: 2)      // B
        let period = meter.report(at: 2)
        // 1 + 1.5 + 0.25 request-seconds over 2 seconds.
        #expect(period.averageConcurrency == 1.375)
        #expect(period.requestCount == 3)
        #expect(meter.current == 0)
    }

    @Test func countsArrivalsOnly() {
        var meter = ConcurrencyMeter(now: 0)
        for _ in 0..<4 { meter.started(at: 0.25) }
        let period = meter.report(at: 1)
        #expect(period.requestCount == 4)
        #expect(period.averageConcurrency == 3.0)
        #expect(meter.current == 4)
    }

    @Test func tracksProxiedRequestsSeparately() {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(proxied: true, at: 0)
        meter.started(at: 0)
        meter.started(proxied: true, at: 0.5)
        #expect(meter.current == 3)
        #expect(meter.currentProxied == 2)
        meter.finished(proxied: true, at: 0.5)
        meter.finished(at: 1)
        #expect(meter.currentProxied == 1)

        let period = meter.report(at: 1)
        // All: 2 for 0.5 s, then 2 for 0.5 s. Proxied: 1 for 0.5 s, then 1 for 0.5 s.
        #expect(period.averageConcurrency == 2.0)
        #expect(period.requestCount == 3)
        #expect(period.averageProxiedConcurrency == 1.0)
        #expect(period.proxiedRequestCount == 2)
    }

    @Test func idlePeriodIsIdle() {
        var meter = ConcurrencyMeter(now: 0)
        let period = meter.report(at: 1)
        #expect(period.averageConcurrency == 0)
        #expect(period.requestCount == 0)
        #expect(period.averageProxiedConcurrency == 0)
        #expect(period.proxiedRequestCount == 0)
        #expect(period.isIdle)
    }

    @Test func aRequestInFlightAllPeriodIsNotIdle() {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(at: 0)
        _ = meter.report(at: 1)
        let period = meter.report(at: 2)
        #expect(period.requestCount == 0)
        #expect(period.averageConcurrency == 1.0)
        #expect(!period.isIdle)
    }

    @Test func reportStartsAFreshPeriod() {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(proxied: true, at: 0)
        meter.started(proxied: true, at: 0)
        meter.started(at: 0.5)
        meter.finished(proxied: true, at: 0.5)
        let first = meter.report(at: 1)
        #expect(first.requestCount == 3)
        #expect(first.proxiedRequestCount == 2)
        #expect(first.averageConcurrency == 2.0)
        #expect(first.averageProxiedConcurrency == 1.5)

        // Two still in flight (one proxied) carry over; only the new arrival is counted.
        meter.started(at: 1.5)
        meter.finished(proxied: true, at: 1.5)
        meter.finished(at: 2)
        meter.finished(at: 2)
        let second = meter.report(at: 3)
        // 2 for 0.5 s, 2 for 0.5 s, 0 for 1 s over 2 s; proxied 1 for 0.5 s.
        #expect(second.averageConcurrency == 1.0)
        #expect(second.requestCount == 1)
        #expect(second.averageProxiedConcurrency == 0.25)
        #expect(second.proxiedRequestCount == 0)

        let third = meter.report(at: 4)
        #expect(third.isIdle)
    }

    @Test func emptyPeriodReportsCurrentConcurrency() {
        var meter = ConcurrencyMeter(now: 5)
        meter.started(proxied: true, at: 5)
        meter.started(at: 5)
        let period = meter.report(at: 5)
        #expect(period.averageConcurrency == 2)
        #expect(period.averageProxiedConcurrency == 1)
        #expect(period.requestCount == 2)
    }

    @Test func extraFinishesDoNotGoNegative() {
        var meter = ConcurrencyMeter(now: 0)
        meter.finished(at: 0.1)
        meter.finished(proxied: true, at: 0.2)
        #expect(meter.current == 0)
        #expect(meter.currentProxied == 0)
        meter.started(at: 0.5)
        #expect(meter.current == 1)
        let period = meter.report(at: 1)
        #expect(period.averageConcurrency == 0.5)
    }

    @Test func anEventStampedBeforeTheLastChangeAddsNoNegativeTime() {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(at: 0.5)
        meter.finished(at: 0.25)   // a clock read on another thread, a little behind
        #expect(meter.current == 0)
        let period = meter.report(at: 1)
        #expect(period.averageConcurrency == 0)
        #expect(period.averageConcurrency >= 0)
        #expect(period.requestCount == 1)
    }
}

@Suite struct StatReportTests {
    @Test func reportRoundTripsThroughJSON() throws {
        let report = StatReport(target: "mnist-v1", source: "activator", timestamp: 1_700_000_000.25,
                                averageConcurrency: 1.375, requestCount: 42, queueLength: 3,
                                averageProxiedConcurrency: 0.5, proxiedRequestCount: 7)
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(StatReport.self, from: data) == report)
    }

    @Test func defaultsAreZeroAndRoundTrip() throws {
        let report = StatReport(target: "mnist-v1", source: "mnist-v1-abc12", timestamp: 10,
                                averageConcurrency: 0.5, requestCount: 1)
        #expect(report.queueLength == 0)
        #expect(report.averageProxiedConcurrency == 0)
        #expect(report.proxiedRequestCount == 0)
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(StatReport.self, from: data) == report)
    }

    @Test func wireFormatUsesTheFieldNames() throws {
        let json = """
            {"target": "mnist-v1", "source": "activator", "timestamp": 12.5, "averageConcurrency": 2.5,
             "requestCount": 9, "queueLength": 4, "averageProxiedConcurrency": 0, "proxiedRequestCount": 0}
            """
        let report = try JSONDecoder().decode(StatReport.self, from: Data(json.utf8))
        #expect(report == StatReport(target: "mnist-v1", source: "activator", timestamp: 12.5,
                                     averageConcurrency: 2.5, requestCount: 9, queueLength: 4))

        let encoded = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(Set(object.keys) == ["target", "source", "timestamp", "averageConcurrency", "requestCount",
                                     "queueLength", "averageProxiedConcurrency", "proxiedRequestCount"])
    }

    @Test func batchAndPokeRoundTrip() throws {
        let batch = StatBatch(stats: [
            StatReport(target: "a", source: "activator", timestamp: 1, averageConcurrency: 1, requestCount: 2),
            StatReport(target: "b", source: "activator", timestamp: 1, averageConcurrency: 0, requestCount: 0, queueLength: 5),
        ])
        let batchData = try JSONEncoder().encode(batch)
        #expect(try JSONDecoder().decode(StatBatch.self, from: batchData) == batch)

        let poke = Poke(target: "mnist-v1", source: "activator", queueLength: 1)
        let pokeData = try JSONEncoder().encode(poke)
        #expect(try JSONDecoder().decode(Poke.self, from: pokeData) == poke)
        #expect(StatPaths.stats == "/v1/stats")
        #expect(StatPaths.poke == "/v1/poke")
    }

    @Test func meterPeriodFillsAReport() throws {
        var meter = ConcurrencyMeter(now: 0)
        meter.started(proxied: true, at: 0)
        meter.finished(proxied: true, at: 0.5)
        let period = meter.report(at: 1)
        let report = StatReport(target: "t", source: "replica-1", timestamp: 1,
                                averageConcurrency: period.averageConcurrency, requestCount: Double(period.requestCount),
                                averageProxiedConcurrency: period.averageProxiedConcurrency,
                                proxiedRequestCount: Double(period.proxiedRequestCount))
        let decoded = try JSONDecoder().decode(StatReport.self, from: try JSONEncoder().encode(report))
        #expect(decoded.averageConcurrency == 0.5)
        #expect(decoded.averageProxiedConcurrency == 0.5)
        #expect(decoded.requestCount == 1)
        #expect(decoded.proxiedRequestCount == 1)
    }
}
