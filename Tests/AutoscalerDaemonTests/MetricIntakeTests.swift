import Autoscaling
import ControlHTTP
import Foundation
import NIOHTTP1
import ScalingPolicy
import Testing
import TrafficStats
@testable import AutoscalerDaemon

/// `POST /v1/metrics`: per-target values from the collector (GPU utilization).
@Suite("metric intake")
struct MetricIntakeTests {
    func gpuTarget(_ name: String, extra: [String: String] = [:]) throws -> ScaledTarget {
        var config = AutoscalerConfig()
        config.allowZeroInitialScale = true
        return ScaledTarget(name: name, policy: try TargetPolicy(annotations: [
            "autoscaling.knative.dev/metric": "gpu", "autoscaling.knative.dev/target": "50",
            "autoscaling.knative.dev/window": "6s", "autoscaling.knative.dev/min-scale": "1",
        ].merging(extra) { $1 }, config: config))
    }

    @Test func failuresFromTheCollectorApplyTheFallbackAtOnceAfterTheThreshold() async throws {
        let f = LoopFixture([try gpuTarget("llm", extra: ["autoscaling.thaw.dev/fallback-replicas": "5",
                                                          "autoscaling.thaw.dev/fallback-after-failures": "2"])])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("llm", running: 2, ready: 2)])
        // Settle on a decided scale first: 100 % in all at 50 % per replica is 2.
        for _ in 0..<7 {
            _ = await f.loop.ingest(MetricBatch(values: [
                MetricValue(target: "llm", metric: "gpu", value: 100, timestamp: f.clock.now.seconds, source: "collector")]))
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("llm", replicas: 2, concurrency: 0)))
            f.clock.advance(by: .seconds(1))
            await f.loop.tick()
        }
        let settled = await f.loop.status().first
        #expect(settled?.desired == 2)
        let countsBefore = f.driver.counts(of: "llm")
        let failure = MetricFailure(target: "llm", metric: "gpu", reason: "cannot reach http://127.0.0.1:1/api/v1/read",
                                    timestamp: f.clock.now.seconds, source: "collector")
        #expect(await f.loop.ingest(MetricBatch(values: [], failures: [failure])).isEmpty)
        f.clock.advance(by: .seconds(1))
        await f.loop.tick()
        let afterOne = await f.loop.status().first
        #expect(afterOne?.signalFailure == failure.reason)
        #expect(afterOne?.fallbackReplicas == nil)
        #expect(f.driver.counts(of: "llm") == countsBefore, "one failure, then a tick: the scale holds")
        #expect(afterOne?.desired == 2)
        // The second failure reaches the threshold: decided on arrival, no tick needed.
        _ = await f.loop.ingest(MetricBatch(values: [], failures: [failure]))
        #expect(f.driver.counts(of: "llm").last == 5)
        #expect(await f.loop.status().first?.fallbackReplicas == 5)
        #expect(f.metrics.exposition().contains(#"thaw_autoscaler_signal_failures_total{target="llm"} 2"#))
        // A value again clears the failure.
        _ = await f.loop.ingest(MetricBatch(values: [
            MetricValue(target: "llm", metric: "gpu", value: 100, timestamp: f.clock.now.seconds, source: "collector")]))
        #expect(await f.loop.status().first?.signalFailure == nil)
        // Unknown targets in failures are refused like values.
        let unknown = await f.loop.ingest(MetricBatch(values: [], failures: [
            MetricFailure(target: "nope", metric: "gpu", reason: "x", timestamp: 0, source: "collector")]))
        #expect(unknown == ["nope"])
    }

    @Test func gpuValuesDriveAGPUTarget() async throws {
        let f = LoopFixture([try gpuTarget("llm")])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("llm", running: 2, ready: 2)])
        for _ in 0..<7 {
            let unknown = await f.loop.ingest(MetricBatch(values: [
                MetricValue(target: "llm", metric: "gpu", value: 180, timestamp: f.clock.now.seconds, source: "collector")]))
            #expect(unknown.isEmpty)
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("llm", replicas: 2, concurrency: 0)))
            f.clock.advance(by: .seconds(1))
            await f.loop.tick()
        }
        // 180 % in total at 50 % per replica: 4 replicas.
        #expect(f.driver.counts(of: "llm").last == 4)
    }

    @Test func valuesForUnknownTargetsOrMetricsAreRefused() async throws {
        let f = LoopFixture([try gpuTarget("llm")])
        let unknown = await f.loop.ingest(MetricBatch(values: [
            MetricValue(target: "nope", metric: "gpu", value: 1, timestamp: f.clock.now.seconds, source: "collector"),
            MetricValue(target: "llm", metric: "memory", value: 1, timestamp: f.clock.now.seconds, source: "collector"),
            MetricValue(target: "llm", metric: "gpu", value: .nan, timestamp: f.clock.now.seconds, source: "collector"),
        ]))
        #expect(unknown == ["nope", "llm", "llm"])
        let reply = await Autoscaler.reply(
            to: ControlServer.Request(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: StatPaths.metrics), body: Array("{}".utf8)),
            loop: f.loop, metrics: f.metrics)
        #expect(reply.status == .badRequest)
    }
}

