import Autoscaling
import AutoscalerDaemon
import ScaleTargets
import ScalingPolicy
import Testing
import TrafficStats

/// The daemon's per-target loop: intake routed into the scalers, decisions applied through the driver.
@Suite("ScalingLoop")
struct ScalingLoopTests {
    @Test("start asks the driver for every target's initial scale")
    func startRequestsInitialScale() async throws {
        let f = LoopFixture([
            ScaledTarget(name: "b", policy: try testPolicy(minScale: 1, initialScale: 2)),
            ScaledTarget(name: "a", policy: try testPolicy(minScale: 0, initialScale: 0)),
        ])
        #expect(f.driver.calls.isEmpty, "nothing is asked before start")
        await f.loop.start()
        #expect(f.driver.calls == [.init(target: "a", count: 0), .init(target: "b", count: 2)])
        let status = await f.loop.status()
        #expect(status.map(\.name) == ["a", "b"])
        #expect(status.map(\.requested) == [0, 2])
        #expect(status.allSatisfy { $0.reason == "starting" && !$0.holding && $0.desired == nil })
    }

    @Test("a poke for an idle target asks for one replica before it returns")
    func pokeScalesFromZero() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        await f.loop.start()
        let known = await f.loop.poke(Poke(target: "a", source: "activator", queueLength: 1), arrived: .now)
        #expect(known)
        #expect(f.driver.counts(of: "a") == [0, 1])
        let status = try #require(await f.status("a"))
        #expect(status.requested == 1)
        #expect(status.desired == 1)
        #expect(status.queueLength == 1)
    }

    @Test("a poke for an unknown target is refused and changes nothing")
    func pokeUnknownTarget() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        await f.loop.start()
        let known = await f.loop.poke(Poke(target: "ghost", source: "activator", queueLength: 1), arrived: .now)
        #expect(!known)
        #expect(f.driver.calls == [.init(target: "a", count: 0)])
        #expect(await f.loop.status().map(\.name) == ["a"])
    }

    @Test("a batch with an unknown target returns its name and keeps the known targets' stats")
    func ingestUnknownTarget() async throws {
        let f = LoopFixture([
            ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1)),
            ScaledTarget(name: "b", policy: try testPolicy(minScale: 1, initialScale: 1)),
        ])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 1, ready: 1), targetState("b", running: 1, ready: 1)])
        let batch = StatBatch(stats: f.replicaReports("a", replicas: 1, concurrency: 14)
            + f.replicaReports("ghost", replicas: 1, concurrency: 50)
            + f.replicaReports("b", replicas: 1, concurrency: 4))
        let unknown = await f.loop.ingest(batch)
        #expect(unknown == ["ghost"])
        await f.loop.tick()
        let a = try #require(await f.status("a"))
        let b = try #require(await f.status("b"))
        #expect(a.stable == 14)
        #expect(a.desired == 2)
        #expect(b.stable == 4)
        #expect(b.desired == 1)
        #expect(await f.loop.status().map(\.name) == ["a", "b"])
    }

    @Test("a batch of known targets returns no unknown names")
    func ingestKnownTargets() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        let unknown = await f.loop.ingest(StatBatch(stats: [f.activatorReport("a", concurrency: 1)]))
        #expect(unknown.isEmpty)
    }

    @Test("sustained load reported by sidecars and ticked scales the target up to demand / target")
    func sustainedLoadScalesUp() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        var ready = 1
        await f.loop.driverUpdate([targetState("a", running: 1, ready: 1)])
        for _ in 0..<8 {
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: ready, concurrency: 30)))
            await f.loop.tick()
            // Asked-for replicas come up at once.
            ready = f.driver.counts(of: "a").last ?? ready
            await f.loop.driverUpdate([targetState("a", running: ready, ready: ready)])
            f.clock.advance(by: .seconds(1))
        }
        #expect(f.driver.counts(of: "a").last == 3)
        #expect(f.driver.counts(of: "a").allSatisfy { $0 <= 3 }, "never over-scaled")
        let status = try #require(await f.status("a"))
        #expect(status.requested == 3)
        #expect(status.ready == 3)
        #expect(status.desired == 3)
        #expect(status.activity == "active")
        #expect(!status.holding)
    }

    @Test("a report that crosses the panic threshold is decided during intake, without a tick")
    func panicReportDecidesAtOnce() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 1, ready: 1)])
        _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 1, concurrency: 40)))
        #expect(f.driver.counts(of: "a") == [1, 4])
        let status = try #require(await f.status("a"))
        #expect(status.panicking)
        #expect(status.requested == 4)
    }

    @Test("a report below the panic threshold waits for the tick")
    func calmReportWaitsForTick() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 2, ready: 2)])
        _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 2, concurrency: 30)))
        #expect(f.driver.counts(of: "a") == [1])
        await f.loop.tick()
        #expect(f.driver.counts(of: "a") == [1, 3])
    }

    @Test("load that goes away takes an idle target back to zero")
    func idleTargetScalesToZero() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        await f.loop.start()
        #expect(await f.loop.poke(Poke(target: "a", source: "activator", queueLength: 1), arrived: .now))
        var ready = 0
        for second in 0..<30 {
            if second == 1 { ready = 1 }
            await f.loop.driverUpdate([targetState("a", running: ready, ready: ready)])
            // One request in the first three seconds, then idle reports.
            let concurrency: Double = second < 3 ? 1 : 0
            let reports = ready > 0 ? f.replicaReports("a", replicas: ready, concurrency: concurrency)
                                    : [f.activatorReport("a", concurrency: concurrency)]
            _ = await f.loop.ingest(StatBatch(stats: reports))
            await f.loop.tick()
            ready = min(ready, f.driver.counts(of: "a").last ?? ready)
            if f.driver.counts(of: "a").last == 0 { break }
            f.clock.advance(by: .seconds(1))
        }
        #expect(f.driver.counts(of: "a") == [0, 1, 0])
        let status = try #require(await f.status("a"))
        #expect(status.requested == 0)
        #expect(status.activity == "inactive (no traffic)")
    }

    @Test("the driver's view of the target shows in status")
    func driverUpdateShowsInStatus() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        await f.loop.driverUpdate([
            targetState("a", running: 3, ready: 2, failure: "exit status 1, restarting"),
            targetState("ghost", running: 5, ready: 5),
        ])
        let status = await f.loop.status()
        #expect(status.map(\.name) == ["a"], "states of unknown targets are ignored")
        #expect(status.first?.running == 3)
        #expect(status.first?.ready == 2)
        #expect(status.first?.failure == "exit status 1, restarting")
        #expect(status.first?.requested == 1, "the driver's view does not change what was asked")

        await f.loop.driverUpdate([targetState("a", running: 2, ready: 2)])
        let later = try #require(await f.status("a"))
        #expect(later.running == 2)
        #expect(later.ready == 2)
        #expect(later.failure == nil)
    }

    @Test("ready replicas that stop reporting hold the scale, in status too, until they report again")
    func holdingShowsInStatus() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 2))])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 2, ready: 2)])
        _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 2, concurrency: 20)))
        await f.loop.tick()
        #expect(await f.status("a")?.holding == false)
        let callsBefore = f.driver.calls

        f.clock.advance(by: .seconds(5))
        await f.loop.tick()
        let held = try #require(await f.status("a"))
        #expect(held.holding)
        #expect(held.reason.contains("holding"))
        #expect(held.requested == 2)
        #expect(f.driver.calls == callsBefore, "a hold never changes the scale")

        f.clock.advance(by: .seconds(30))
        await f.loop.tick()
        #expect(await f.status("a")?.holding == true)
        #expect(f.driver.calls == callsBefore)

        _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("a", replicas: 2, concurrency: 20)))
        await f.loop.tick()
        let resumed = try #require(await f.status("a"))
        #expect(!resumed.holding)
        #expect(!resumed.reason.contains("holding"))
    }

    @Test("activator reports alone do not count as the ready replicas' stats")
    func activatorReportsDoNotEndHold() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 1, ready: 1)])
        for _ in 0..<6 {
            _ = await f.loop.ingest(StatBatch(stats: [f.activatorReport("a", concurrency: 1)]))
            await f.loop.tick()
            f.clock.advance(by: .seconds(1))
        }
        #expect(await f.status("a")?.holding == true)
    }

    @Test("the activator's queue length shows in status while its report is fresh")
    func queueLengthInStatus() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        _ = await f.loop.ingest(StatBatch(stats: [f.activatorReport("a", concurrency: 3, queueLength: 4)]))
        #expect(await f.status("a")?.queueLength == 4)
        f.clock.advance(by: .seconds(2))
        #expect(await f.status("a")?.queueLength == 4)
        f.clock.advance(by: .seconds(1))
        #expect(await f.status("a")?.queueLength == 0)
    }

    @Test("a poke shows its own queue length, not one from an activator report that has gone stale")
    func pokeDoesNotReviveStaleQueueLength() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
        _ = await f.loop.ingest(StatBatch(stats: [f.activatorReport("a", concurrency: 3, queueLength: 10)]))
        f.clock.advance(by: .seconds(60))
        #expect(await f.status("a")?.queueLength == 0)
        _ = await f.loop.poke(Poke(target: "a", source: "activator", queueLength: 1), arrived: .now)
        #expect(await f.status("a")?.queueLength == 1)
    }

    @Test("a report from the future counts as now; one older than the stable window is dropped")
    func skewedStampsAreClampedAndStaleOnesDropped() async throws {
        let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy(minScale: 1, initialScale: 1))])
        await f.loop.start()
        await f.loop.driverUpdate([targetState("a", running: 1, ready: 1)])
        var old = f.replicaReports("a", replicas: 1, concurrency: 8)[0]
        old.timestamp = 0
        var future = f.replicaReports("a", replicas: 1, concurrency: 8)[0]
        future.source = "a-replica-1"
        future.timestamp = f.clock.now.seconds + 86_400
        _ = await f.loop.ingest(StatBatch(stats: [old]))
        _ = await f.loop.ingest(StatBatch(stats: [future]))
        await f.loop.tick()
        let status = try #require(await f.status("a"))
        #expect(status.desired != nil)
        // Only the future report counts, at now: one bucket of 8.
        #expect(status.stable == 8)
    }
}
