import Autoscaling
import ScalingPolicy
import Testing
import TrafficStats
@testable import AutoscalerDaemon

/// Two activator replicas each hold their own queue and report it; the autoscaler adds them up
/// (issue 15; before, the second report overwrote the first).
@Suite struct TwoActivatorsTests {
    func report(_ f: LoopFixture, from instance: String, concurrency: Double, queue: Int) -> StatReport {
        StatReport(target: "a", source: "activator/\(instance)", timestamp: f.clock.now.seconds,
                   averageConcurrency: concurrency, requestCount: concurrency, queueLength: queue)
    }

    @Test func theirWaitingRequestsAddUpAndAGoneOneStopsCounting() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        _ = await f.loop.ingest(StatBatch(stats: [report(f, from: "x", concurrency: 2, queue: 3), report(f, from: "y", concurrency: 1, queue: 4)]))
        #expect(await f.status("a")?.queueLength == 7)
        // y keeps reporting, x went away: after the freshness window only y's queue counts.
        f.clock.advance(by: .seconds(3))
        _ = await f.loop.ingest(StatBatch(stats: [report(f, from: "y", concurrency: 1, queue: 2)]))
        #expect(await f.status("a")?.queueLength == 2)
    }

    @Test func pokesFromTwoActivatorsAddUpToo() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        _ = await f.loop.poke(Poke(target: "a", source: "activator/x", queueLength: 1), arrived: .now)
        _ = await f.loop.poke(Poke(target: "a", source: "activator/y", queueLength: 1), arrived: .now)
        _ = await f.loop.poke(Poke(target: "a", source: "activator/y", queueLength: 1), arrived: .now)
        #expect(await f.status("a")?.queueLength == 2, "one each; a repeated poke does not count twice")
    }

    @Test func bothAreActivatorsNotReplicas() {
        #expect(ProxyHeaders.isActivator("activator"))
        #expect(ProxyHeaders.isActivator("activator/thaw-activator-5d8f-abcde"))
        #expect(!ProxyHeaders.isActivator("digits-v1-3"))
        #expect(!ProxyHeaders.isActivator("activators"))
    }
}
