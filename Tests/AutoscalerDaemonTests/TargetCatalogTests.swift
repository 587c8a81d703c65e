import Autoscaling
import AutoscalerDaemon
import ScaleTargets
import ScalingPolicy
import Testing
import TrafficStats

/// Targets that come and go (a cluster's workloads), scale set outside Thaw, and requests that wait
/// for a pod no node has room for.
@Suite("ScalingLoop with a changing catalog")
struct TargetCatalogTests {
    @Test("a found target is adopted at the scale it has; one without a scale starts at its initial scale")
    func foundTargets() async throws {
        let f = LoopFixture([])
        await f.loop.start()
        await f.loop.setTargets([
            ScaledTarget(name: "ml/running", policy: try testPolicy(minScale: 0, initialScale: 1), current: 3),
            ScaledTarget(name: "ml/new", policy: try testPolicy(minScale: 0, initialScale: 2)),
        ])
        #expect(f.driver.calls == [.init(target: "ml/new", count: 2)], "a running workload is not set to its initial scale")
        #expect(await f.loop.status().map(\.requested) == [2, 3])
    }

    @Test("a target found running is left at its scale until its replicas report (an autoscaler restart scales nothing down)")
    func adoptedTargetsWaitForMetrics() async throws {
        let f = LoopFixture([])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 1, initialScale: 1), current: 3)])
        await f.loop.driverUpdate([targetState("ml/a", running: 3, ready: 3)])
        for _ in 0..<10 {
            f.clock.advance(by: .seconds(1))
            await f.loop.tick()
        }
        #expect(f.driver.calls.isEmpty, "no stats yet: nothing to decide on, so 3 stays 3")
        // Its replicas report 10 requests in flight in all: one replica's worth (target 10).
        for _ in 0..<8 {
            f.clock.advance(by: .seconds(1))
            _ = await f.loop.ingest(StatBatch(stats: f.replicaReports("ml/a", replicas: 3, concurrency: 10)))
            await f.loop.tick()
        }
        #expect(f.driver.counts(of: "ml/a").last == 1, "decided on data: \(f.driver.counts(of: "ml/a"))")
    }

    @Test("a target gone from the catalog is forgotten and its replicas are left alone")
    func forgetting() async throws {
        let f = LoopFixture([])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(), current: 2)])
        await f.loop.setTargets([])
        f.clock.advance(by: .seconds(30))
        await f.loop.tick()
        #expect(f.driver.calls.isEmpty, "no scale-down of a forgotten target")
        #expect(await f.loop.status().isEmpty)
        let known = await f.loop.poke(Poke(target: "ml/a", source: "activator", queueLength: 1), arrived: .now)
        #expect(!known)
    }

    @Test("a state reported before the catalog knew the target is what it starts with")
    func stateBeforeTarget() async throws {
        let f = LoopFixture([])
        await f.loop.driverUpdate([targetState("ml/a", running: 2, ready: 2)])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(), current: 2)])
        let status = try #require(await f.status("ml/a"))
        #expect((status.running, status.ready) == (2, 2))
    }

    @Test("a changed policy replaces the target's scaler and keeps its scale, within the new bounds at once")
    func policyChange() async throws {
        let f = LoopFixture([])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 0), current: 2)])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 1), current: 2)])
        #expect(await f.status("ml/a")?.requested == 2, "2 is within the new bounds: kept")
        #expect(f.driver.calls.isEmpty)
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 4), current: 2)])
        #expect(f.driver.counts(of: "ml/a") == [4], "a new minimum needs no metrics")
        await f.loop.setTargets([ScaledTarget(name: "ml/b", policy: try testPolicy(minScale: 1), current: 0)])
        #expect(f.driver.counts(of: "ml/b") == [1], "a workload found below its minimum is raised to it")
    }

    @Test("a scale set outside Thaw is set back at the next decision, and a stale view is not taken for one")
    func reassert() async throws {
        let f = LoopFixture([])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 2), current: 2)])
        var state = targetState("ml/a", running: 2, ready: 2)
        state.declared = 2
        await f.loop.driverUpdate([state])
        await f.loop.tick()
        #expect(f.driver.calls.isEmpty)
        state.declared = 5  // kubectl scale --replicas=5
        await f.loop.driverUpdate([state])
        #expect(f.driver.calls.isEmpty, "set back at the next decision, not at once")
        await f.loop.tick()
        #expect(f.driver.counts(of: "ml/a") == [2])
        await f.loop.tick()
        #expect(f.driver.counts(of: "ml/a") == [2], "once")
        // The same stale count reported again is not a new change.
        await f.loop.driverUpdate([state])
        await f.loop.tick()
        #expect(f.driver.counts(of: "ml/a") == [2])
    }

    @Test("an outside scale change that comes with a policy change is still set back")
    func reassertSurvivesAPolicyChange() async throws {
        let f = LoopFixture([])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 0), current: 0)])
        var state = targetState("ml/a", running: 0, ready: 0)
        state.declared = 0
        await f.loop.driverUpdate([state])
        // One `kubectl apply`: replicas 1 and a new annotation. The states arrive before the targets.
        state.declared = 1
        await f.loop.driverUpdate([state])
        await f.loop.setTargets([ScaledTarget(name: "ml/a", policy: try testPolicy(minScale: 0, initialScale: 1), current: 1)])
        await f.loop.tick()
        #expect(f.driver.counts(of: "ml/a") == [0], "set back to the 0 Thaw holds: \(f.driver.counts(of: "ml/a"))")
    }

    @Test("no scale to zero while requests wait for a replica that has no node yet")
    func waitingRequestsKeepOneReplica() async throws {
        let f = LoopFixture([ScaledTarget(name: "ml/gpu", policy: try testPolicy(minScale: 0, initialScale: 1))])
        await f.loop.start()
        var state = targetState("ml/gpu", running: 0, ready: 0)
        state.waiting = "pod gpu-0: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
        await f.loop.driverUpdate([state])
        // Past the activation timeout (630 s), after which the planner alone gives up and goes to zero.
        for _ in 0..<140 {
            f.clock.advance(by: .seconds(5))
            // The activator holds 3 requests; none is in flight, so it reports no concurrency.
            _ = await f.loop.ingest(StatBatch(stats: [f.activatorReport("ml/gpu", concurrency: 0, queueLength: 3)]))
            await f.loop.tick()
        }
        let status = try #require(await f.status("ml/gpu"))
        #expect(status.reason.hasPrefix("3 request(s) waiting: not scaling to zero"), "past the activation timeout the planner would go to zero but for the waiting requests: \(status.reason)")
        #expect(status.requested == 1)
        #expect(!f.driver.counts(of: "ml/gpu").contains(0), "\(f.driver.counts(of: "ml/gpu"))")
        #expect(status.waiting?.contains("Unschedulable") == true)
        let exposition = f.metrics.exposition()
        #expect(exposition.contains(#"thaw_autoscaler_waiting_for_capacity{target="ml/gpu"} 1"#))
        // The requests gave up (504): nothing waits, so zero is right again.
        for _ in 0..<10 {
            f.clock.advance(by: .seconds(1))
            _ = await f.loop.ingest(StatBatch(stats: [f.activatorReport("ml/gpu", concurrency: 0, queueLength: 0)]))
            await f.loop.tick()
        }
        let after = await f.status("ml/gpu")
        #expect(f.driver.counts(of: "ml/gpu").last == 0, "\(String(describing: after))")
    }
}
