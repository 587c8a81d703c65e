import Autoscaling
import ScaleTargets
import ScalingPolicy
import Testing
import TrafficStats
@testable import AutoscalerDaemon

/// A stand-by autoscaler replica writes nothing and follows the leader's counts; taking over, it
/// keeps them and scales nothing in before a stable window of stats, but scales up at once.
@Suite struct LeadershipTests {
    @Test func aStandByWritesNothingAndFollowsTheLeadersCount() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(), current: 0)], leading: false)
        await f.loop.start()
        var state = targetState("a", running: 3, ready: 3)
        state.declared = 3  // the leader scaled it to 3
        await f.loop.driverUpdate([state])
        _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 3, concurrency: 0)))
        await f.loop.tick()
        _ = await f.loop.poke(Poke(target: "a", source: "activator", queueLength: 50), arrived: .now)
        #expect(f.driver.calls.isEmpty, "\(f.driver.calls)")
        #expect(await f.status("a")?.requested == 3)
        #expect(f.metrics.exposition().contains("thaw_autoscaler_leader 0"))
        #expect(await !f.loop.isLeading)
    }

    @Test func aNewLeaderKeepsTheCountScalesNothingInForAStableWindowButScalesUpAtOnce() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(), current: 0)], leading: false)
        var state = targetState("a", running: 3, ready: 3)
        state.declared = 3
        await f.loop.driverUpdate([state])
        await f.loop.setLeading(true)
        #expect(f.metrics.exposition().contains("thaw_autoscaler_leader 1"))
        // Idle replicas for 5 s: less than the 6 s stable window, so no scale-in yet.
        for _ in 0..<5 {
            f.clock.advance(by: .seconds(1))
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 3, concurrency: 0)))
            await f.loop.tick()
        }
        #expect(f.driver.counts(of: "a").allSatisfy { $0 >= 3 }, "\(f.driver.calls)")
        // Load needing 6 replicas: up at once, window or not.
        for _ in 0..<2 {
            f.clock.advance(by: .seconds(1))
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 3, concurrency: 60)))
            await f.loop.tick()
        }
        #expect(f.driver.counts(of: "a").last.map { $0 > 3 } == true, "\(f.driver.calls)")
    }
}
