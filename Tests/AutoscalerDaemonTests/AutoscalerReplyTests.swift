import ControlHTTP
import Foundation
import NIOHTTP1
import ScalingPolicy
import Testing
import TrafficStats
@testable import AutoscalerDaemon

/// The daemon's HTTP routing, called directly with built requests (no socket).
@Suite("Autoscaler.reply")
struct AutoscalerReplyTests {
    private func request(_ method: HTTPMethod, _ uri: String, body: [UInt8] = []) -> ControlServer.Request {
        ControlServer.Request(head: HTTPRequestHead(version: .http1_1, method: method, uri: uri), body: body)
    }

    private func json(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    private func fixture() throws -> LoopFixture {
        LoopFixture([
            ScaledTarget(name: "a", policy: try testPolicy()),
            ScaledTarget(name: "b", policy: try testPolicy(minScale: 1, initialScale: 1)),
        ])
    }

    private func reply(_ f: LoopFixture, _ request: ControlServer.Request) async -> ControlServer.Reply {
        await Autoscaler.reply(to: request, loop: f.loop, metrics: f.metrics)
    }

    @Test("a malformed stats body is a 400", arguments: [
        "", "not json", "{}", #"{"stats": [{"target": "a"}]}"#, #"[{"target": "a", "source": "x", "timestamp": 1}]"#,
    ])
    func malformedStats(body: String) async throws {
        let f = try fixture()
        let answer = await reply(f, request(.POST, StatPaths.stats, body: Array(body.utf8)))
        #expect(answer.status == .badRequest)
        #expect(answer.body.contains("stat batch"))
    }

    @Test("a stats body with a timestamp far beyond any real time is refused, not a crash")
    func absurdTimestampDoesNotCrash() async {
        await #expect(processExitsWith: .success) {
            let f = LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
            let body = #"{"stats": [{"target": "a", "source": "activator", "timestamp": 1e20, "averageConcurrency": 1, "requestCount": 1, "queueLength": 0, "averageProxiedConcurrency": 0, "proxiedRequestCount": 0}]}"#
            let request = ControlServer.Request(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: StatPaths.stats),
                                                body: Array(body.utf8))
            let answer = await Autoscaler.reply(to: request, loop: f.loop, metrics: f.metrics)
            if answer.status != .badRequest || !answer.body.contains("stats[0].timestamp") { exit(1) }
        }
    }

    @Test("a good batch is a 200 \"ok\" and reaches the loop")
    func goodBatch() async throws {
        let f = try fixture()
        let batch = StatBatch(stats: [f.activatorReport("a", concurrency: 2, queueLength: 3)])
        let answer = await reply(f, request(.POST, StatPaths.stats, body: try json(batch)))
        #expect(answer.status == .ok)
        #expect(answer.body == "ok\n")
        #expect(await f.status("a")?.queueLength == 3)
    }

    @Test("the stats path matches with a query string")
    func statsWithQuery() async throws {
        let f = try fixture()
        let batch = StatBatch(stats: [f.activatorReport("a", concurrency: 0)])
        let answer = await reply(f, request(.POST, StatPaths.stats + "?from=test", body: try json(batch)))
        #expect(answer.status == .ok)
    }

    @Test("a batch naming unknown targets is a 404 naming them, and the known targets' stats are kept")
    func batchWithUnknownTargets() async throws {
        let f = try fixture()
        let batch = StatBatch(stats: [
            f.activatorReport("ghost", concurrency: 1),
            f.activatorReport("a", concurrency: 1, queueLength: 7),
            f.activatorReport("phantom", concurrency: 1),
            f.activatorReport("ghost", concurrency: 1),
        ])
        let answer = await reply(f, request(.POST, StatPaths.stats, body: try json(batch)))
        #expect(answer.status == .notFound)
        #expect(answer.body.contains("ghost, phantom"))
        #expect(!answer.body.contains("ghost, ghost"))
        #expect(await f.status("a")?.queueLength == 7)
    }

    @Test("a poke for a known idle target is a 200 and the scale-up is asked before the answer")
    func goodPoke() async throws {
        let f = try fixture()
        await f.loop.start()
        let poke = Poke(target: "a", source: "activator", queueLength: 1)
        let answer = await reply(f, request(.POST, StatPaths.poke, body: try json(poke)))
        #expect(answer.status == .ok)
        #expect(answer.body == "ok\n")
        #expect(f.driver.counts(of: "a") == [0, 1])
    }

    @Test("a poke for an unknown target is a 404")
    func unknownPoke() async throws {
        let f = try fixture()
        let poke = Poke(target: "ghost", source: "activator", queueLength: 1)
        let answer = await reply(f, request(.POST, StatPaths.poke, body: try json(poke)))
        #expect(answer.status == .notFound)
        #expect(answer.body.contains("ghost"))
        #expect(f.driver.calls.isEmpty)
    }

    @Test("a malformed poke is a 400")
    func malformedPoke() async throws {
        let f = try fixture()
        let answer = await reply(f, request(.POST, StatPaths.poke, body: Array(#"{"target": "a"}"#.utf8)))
        #expect(answer.status == .badRequest)
        #expect(f.driver.calls.isEmpty)
    }

    @Test("/status is JSON that decodes as AutoscalerStatus")
    func statusJSON() async throws {
        let f = try fixture()
        await f.loop.start()
        await f.loop.driverUpdate([targetState("b", running: 2, ready: 1, failure: "oom")])
        let answer = await reply(f, request(.GET, "/status"))
        #expect(answer.status == .ok)
        #expect(answer.contentType == "application/json")
        let status = try JSONDecoder().decode(AutoscalerStatus.self, from: Data(answer.body.utf8))
        #expect(status.targets.map(\.name) == ["a", "b"])
        #expect(status.targets == (await f.loop.status()))
        let b = try #require(status.targets.last)
        #expect(b.running == 2)
        #expect(b.ready == 1)
        #expect(b.failure == "oom")
        #expect(b.requested == 1)
        #expect(b.targetPerReplica == 10)
    }

    @Test("health, readiness and metrics answer 200")
    func healthAndMetrics() async throws {
        let f = try fixture()
        #expect(await reply(f, request(.GET, "/healthz")).status == .ok)
        #expect(await reply(f, request(.GET, "/readyz")).status == .ok)
        let metrics = await reply(f, request(.GET, "/metrics"))
        #expect(metrics.status == .ok)
        #expect(metrics.body.contains("thaw_autoscaler_"))
    }

    @Test("other paths and methods are a 404", arguments: [
        (HTTPMethod.GET, StatPaths.stats), (.GET, StatPaths.poke), (.POST, "/status"), (.GET, "/nope"), (.DELETE, "/v1/stats"),
    ])
    func unknownRoutes(method: HTTPMethod, path: String) async throws {
        let f = try fixture()
        let answer = await reply(f, request(method, path))
        #expect(answer.status == .notFound)
    }
}

/// Impossible values are refused whole, naming the field, before anything is recorded. (Before,
/// one report of `averageConcurrency: -1e9` was answered 200 and scaled a loaded target from 3
/// replicas to 1; negative counts, 1e308 and a 3 MB failure reason were accepted and kept.)
@Suite("Autoscaler intake limits")
struct IntakeLimitTests {
    private func post(_ f: LoopFixture, _ path: String, _ body: some Encodable) async throws -> ControlServer.Reply {
        await Autoscaler.reply(to: ControlServer.Request(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: path),
                                                         body: Array(try JSONEncoder().encode(body))),
                               loop: f.loop, metrics: f.metrics)
    }

    private func fixture() throws -> LoopFixture {
        LoopFixture([ScaledTarget(name: "a", policy: try testPolicy())])
    }

    @Test("an impossible value in one report refuses the whole batch, naming the field", arguments: [
        ("averageConcurrency", -1e9), ("requestCount", -5), ("averageProxiedConcurrency", 1e308), ("proxiedRequestCount", -0.5),
    ])
    func impossibleStat(field: String, value: Double) async throws {
        let f = try fixture()
        var bad = f.activatorReport("a", concurrency: 1)
        switch field {
        case "averageConcurrency": bad.averageConcurrency = value
        case "requestCount": bad.requestCount = value
        case "averageProxiedConcurrency": bad.averageProxiedConcurrency = value
        default: bad.proxiedRequestCount = value
        }
        let named = "stats[1].\(field)"
        let answer = try await post(f, StatPaths.stats, StatBatch(stats: [f.activatorReport("a", concurrency: 3, queueLength: 4), bad]))
        #expect(answer.status == .badRequest)
        #expect(answer.body.contains(named), "\(answer.body)")
        #expect(await f.status("a")?.queueLength == 0, "nothing of the batch was recorded")
    }

    @Test("negative queue lengths, empty or huge names, and oversized reasons are refused")
    func otherFields() async throws {
        let f = try fixture()
        var queue = f.activatorReport("a", concurrency: 1)
        queue.queueLength = -1
        #expect(try await post(f, StatPaths.stats, StatBatch(stats: [queue])).body.contains("stats[0].queueLength"))
        var name = f.activatorReport("a", concurrency: 1)
        name.source = String(repeating: "s", count: 10_000)
        #expect(try await post(f, StatPaths.stats, StatBatch(stats: [name])).body.contains("stats[0].source"))
        let poke = try await post(f, StatPaths.poke, Poke(target: "a", source: "activator", queueLength: -3))
        #expect(poke.status == .badRequest && poke.body.contains("queueLength"))
        let reason = MetricBatch(values: [], failures: [MetricFailure(target: "a", metric: "gpu", reason: String(repeating: "r", count: 3_000_000),
                                                                          timestamp: f.clock.now.seconds, source: "collector")])
        let refused = try await post(f, StatPaths.metrics, reason)
        #expect(refused.status == .badRequest && refused.body.contains("failures[0].reason"))
        let negative = try await post(f, StatPaths.metrics, MetricBatch(values: [MetricValue(target: "a", metric: "gpu", value: -40, timestamp: f.clock.now.seconds, source: "c")]))
        #expect(negative.status == .badRequest && negative.body.contains("values[0].value"))
        #expect(f.metrics.exposition().contains("thaw_autoscaler_stats_rejected_total 4"), "\(f.metrics.exposition().split(separator: "\n").filter { $0.contains("rejected") })")
    }

    @Test("a timestamp more than 5 minutes from the autoscaler's clock is refused, naming the field and the skew")
    func clockSkew() async throws {
        let f = try fixture()
        var late = f.activatorReport("a", concurrency: 1)
        late.timestamp -= 1000
        let answer = try await post(f, StatPaths.stats, StatBatch(stats: [late]))
        #expect(answer.status == .badRequest)
        #expect(answer.body.contains("stats[0].timestamp") && answer.body.contains("1000 s behind"), "\(answer.body)")
        let ahead = MetricBatch(values: [MetricValue(target: "a", metric: "gpu", value: 40, timestamp: f.clock.now.seconds + 400, source: "c")])
        let refused = try await post(f, StatPaths.metrics, ahead)
        #expect(refused.status == .badRequest && refused.body.contains("values[0].timestamp") && refused.body.contains("400 s ahead"), "\(refused.body)")
        var close = f.activatorReport("a", concurrency: 1, queueLength: 2)
        close.timestamp -= 200
        #expect(try await post(f, StatPaths.stats, StatBatch(stats: [close])).status == .ok, "within the tolerance")
    }

    @Test("a good batch still passes")
    func goodBatchPasses() async throws {
        let f = try fixture()
        let answer = try await post(f, StatPaths.stats, StatBatch(stats: [f.activatorReport("a", concurrency: 2, queueLength: 3)]))
        #expect(answer.status == .ok)
        #expect(await f.status("a")?.queueLength == 3)
    }
}
