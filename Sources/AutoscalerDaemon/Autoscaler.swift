import ControlHTTP
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ScaleTargets
import ServiceLifecycle
import ThawVocabulary
import TrafficStats

/// The autoscaler daemon as one service: the HTTP intake for stats and pokes, the 2-second tick,
/// and the driver's view of replicas, feeding one `ScalingLoop`.
///
/// Decisions are event-driven as well as periodic: a poke, or a report that crosses the panic
/// threshold, is decided before its HTTP answer is sent.
public struct Autoscaler: Service {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 8090
        public var tickInterval: Duration = .seconds(2)
        /// Whether this replica leads, when several run (a Lease election sets it); nil: it always does.
        public var leading: Followed<Bool>?
        /// Where the leader takes stats and pokes (`host:port`), when another replica leads: a
        /// stand-by forwards what it receives there, so a Service may send them to any replica.
        public var leaderAddress: (@Sendable () -> String?)?
        public init() {}
    }

    let options: Options
    public let loop: ScalingLoop
    let catalog: any TargetCatalog
    let driver: any ReplicaDriver
    let metrics: AutoscalerMetrics
    let group: any EventLoopGroup
    let logger: Logger
    let onBound: @Sendable (SocketAddress) -> Void

    /// An autoscaler for targets that never change (local mode).
    public init(options: Options, targets: [ScaledTarget], driver: any ReplicaDriver, metrics: AutoscalerMetrics = AutoscalerMetrics(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.init(options: options, catalog: FixedTargets(targets), driver: driver, metrics: metrics, group: group, logger: logger,
                  onBound: onBound)
    }

    /// An autoscaler for the targets `catalog` reports as they come and go (a cluster's workloads).
    public init(options: Options, catalog: any TargetCatalog, driver: any ReplicaDriver, metrics: AutoscalerMetrics = AutoscalerMetrics(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.options = options
        self.catalog = catalog
        self.driver = driver
        self.metrics = metrics
        self.group = group
        self.logger = logger
        self.onBound = onBound
        loop = ScalingLoop(targets: catalog.initial, driver: driver, metrics: metrics, logger: logger, leading: options.leading == nil)
    }

    public func run() async throws {
        let forwarding = options.leaderAddress.map { IntakeForwarding(leader: $0, group: group) }
        let channel = try await ControlServer.bind(host: options.host, port: options.port, group: group) { [loop, metrics] request in
            await Self.reply(to: request, loop: loop, metrics: metrics, forwarding: forwarding)
        }
        logger.info("thaw-autoscaler listening", metadata: ["address": "\(channel.localAddress!)"])
        onBound(channel.localAddress!)
        await loop.start()
        await withThrowingTaskGroup(of: Void.self) { tasks in
            // Catalog and driver updates reach the loop in order, through one stream: each holds
            // everything, so only the newest of a kind matters when they pile up.
            let (updates, continuation) = AsyncStream.makeStream(of: Update.self, bufferingPolicy: .bufferingNewest(16))
            tasks.addTask { [driver] in
                try await driver.watch { continuation.yield(.states($0)) }
            }
            tasks.addTask { [catalog] in
                try await catalog.watch { continuation.yield(.targets($0)) }
            }
            tasks.addTask { [loop] in
                for await update in updates {
                    switch update {
                    case .states(let states): await loop.driverUpdate(states)
                    case .targets(let targets): await loop.setTargets(targets)
                    }
                }
            }
            if let leading = options.leading {
                // Its own stream, never dropped to make room for a burst of cluster views.
                let (changes, change) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
                tasks.addTask { try await leading.watch { change.yield($0) } }
                tasks.addTask { [loop] in
                    for await value in changes { await loop.setLeading(value) }
                }
            }
            tasks.addTask { [loop, options] in
                while true {
                    try await Task.sleep(for: options.tickInterval)
                    await loop.tick()
                }
            }
            try? await gracefulShutdown()
            continuation.finish()
            tasks.cancelAll()
        }
        try? await channel.close()
        logger.info("thaw-autoscaler stopped")
    }

    private enum Update: Sendable {
        case states([TargetState])
        case targets([ScaledTarget])
    }

    static func reply(to request: ControlServer.Request, loop: ScalingLoop, metrics: AutoscalerMetrics,
                      forwarding: IntakeForwarding? = nil) async -> ControlServer.Reply {
        if let forwarding, request.head.method == .POST, IntakeForwarding.paths.contains(request.path), await !loop.isLeading {
            // Forwarded once at most: two replicas that each think the other leads (a hand-over)
            // answer 503 rather than pass a report back and forth.
            guard !request.head.headers.contains(name: IntakeForwarding.header) else {
                return .text("this replica does not lead either (a hand-over is under way); send again", status: .serviceUnavailable)
            }
            return await forwarding.forward(request)
        }
        switch (request.head.method, request.path) {
        case (.POST, StatPaths.stats):
            guard let batch = try? JSONDecoder().decode(StatBatch.self, from: Data(request.body)) else {
                metrics.statsRejected.increment()
                return .text("the body must be a JSON stat batch: {\"stats\": [{\"target\", \"source\", \"timestamp\", ...}]}", status: .badRequest)
            }
            if let problem = batch.problem(now: loop.now().seconds) {
                // Nothing of a batch with an impossible value is recorded: it would steer scaling.
                metrics.statsRejected.increment()
                return .text("stat batch refused, nothing recorded: \(problem)", status: .badRequest)
            }
            let unknown = await loop.ingest(batch)
            if !unknown.isEmpty {
                return .text("unknown targets (their stats were dropped): \(Set(unknown).sorted().joined(separator: ", "))", status: .notFound)
            }
            return .text("ok")
        case (.POST, StatPaths.metrics):
            guard let batch = try? JSONDecoder().decode(MetricBatch.self, from: Data(request.body)) else {
                metrics.statsRejected.increment()
                return .text("the body must be a JSON metric batch: {\"values\": [{\"target\", \"metric\", \"value\", \"timestamp\", \"source\"}]}", status: .badRequest)
            }
            if let problem = batch.problem(now: loop.now().seconds) {
                metrics.statsRejected.increment()
                return .text("metric batch refused, nothing recorded: \(problem)", status: .badRequest)
            }
            let unknown = await loop.ingest(batch)
            if !unknown.isEmpty {
                return .text("unknown targets or non-finite values (dropped): \(Set(unknown).sorted().joined(separator: ", "))", status: .notFound)
            }
            return .text("ok")
        case (.POST, StatPaths.poke):
            let arrived = ContinuousClock.now
            guard let poke = try? JSONDecoder().decode(Poke.self, from: Data(request.body)) else {
                return .text("the body must be a JSON poke: {\"target\", \"source\", \"queueLength\"}", status: .badRequest)
            }
            if let problem = poke.problem {
                return .text("poke refused: \(problem)", status: .badRequest)
            }
            guard await loop.poke(poke, arrived: arrived) else {
                return .text("unknown target \"\(poke.target)\"", status: .notFound)
            }
            return .text("ok")
        case (.GET, "/metrics"):
            return ControlServer.Reply(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.exposition())
        case (.GET, "/healthz"):
            return .text("ok")
        case (.GET, "/readyz"):
            return .text(await loop.isLeading ? "ok" : "ok: standing by; stats and pokes are forwarded to the leader")
        case (.GET, "/status"):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let body = (try? encoder.encode(AutoscalerStatus(targets: await loop.status()))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return ControlServer.Reply(status: .ok, contentType: "application/json", body: body + "\n")
        default:
            return .text("not found: the autoscaler serves POST \(StatPaths.stats), POST \(StatPaths.metrics), POST \(StatPaths.poke), GET /metrics, /healthz, /readyz and /status",
                         status: .notFound)
        }
    }
}

/// The body of `GET /status`.
public struct AutoscalerStatus: Codable, Sendable {
    public var targets: [TargetStatus]
    public init(targets: [TargetStatus]) { self.targets = targets }
}

/// A stand-by replica's intake: stats, metrics and pokes go on to the leader, and its answer comes
/// back. Without a known or answering leader (an election under way) the sender hears 503 and sends
/// again: activators and sidecars keep their reports until one is taken.
struct IntakeForwarding: Sendable {
    static let paths: Set<String> = [StatPaths.stats, StatPaths.metrics, StatPaths.poke]
    /// Set on a forwarded report, so it is forwarded no further.
    static let header = "Thaw-Forwarded-By"

    let leader: @Sendable () -> String?
    let group: any EventLoopGroup

    func forward(_ request: ControlServer.Request) async -> ControlServer.Reply {
        guard let address = leader(), let endpoint = EndpointAddress(address) else {
            return .text("no leader known yet (an election is under way); send again", status: .serviceUnavailable)
        }
        do {
            let answer = try await HTTPCall.perform(on: group.any(), to: endpoint, method: .POST, path: request.head.uri,
                                                    headers: [("Content-Type", "application/json"), (Self.header, "stand-by")], body: request.body,
                                                    timeout: .seconds(2))
            return .text(answer.body, status: HTTPResponseStatus(statusCode: answer.status))
        } catch {
            return .text("the leader at \(address) does not answer (\(error)); send again", status: .serviceUnavailable)
        }
    }
}
