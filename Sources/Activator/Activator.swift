import ActivatorCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The activator as one service: the proxy port, the admin port, readiness probing, reporting to
/// the autoscaler and following the endpoint source, started and stopped together.
///
/// On graceful shutdown (SIGTERM) it reports not-ready, stops accepting connections, lets queued
/// and in-flight requests finish until the drain deadline, answers any still waiting with 503, and returns.
public struct Activator: Service {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var adminPort = 9090
        public var autoscaler: AutoscalerURL?
        public var drainDeadline: Duration = .seconds(30)
        public var connectTimeout: TimeAmount = .seconds(2)
        public init() {}
    }

    /// Where the servers listen once bound (port 0 picks a free one).
    public struct Bound: Sendable {
        public var proxy: SocketAddress
        public var admin: SocketAddress
    }

    let options: Options
    let source: any EndpointSource
    let group: any EventLoopGroup
    let metrics: ActivatorMetrics
    let logger: Logger
    let onBound: @Sendable (Bound) -> Void

    public init(options: Options, source: any EndpointSource, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                metrics: ActivatorMetrics, logger: Logger, onBound: @escaping @Sendable (Bound) -> Void = { _ in }) {
        self.options = options
        self.source = source
        self.group = group
        self.metrics = metrics
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let reporter = AutoscalerReporter(url: options.autoscaler, eventLoopGroup: group, metrics: metrics, logger: logger)
        let directory = RouteDirectory(metrics: metrics, pokes: reporter)
        directory.apply(source.initial)
        let draining = NIOLockedValueBox(false)
        let pools = try await UpstreamPools.make(group: group, connectTimeout: options.connectTimeout)

        let proxy = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    // Requests are decoded by NIO; responses leave as bytes (a replica's raw response,
                    // or one of ours), so no response encoder. Pipelining and malformed requests are
                    // handled by DownstreamHandler itself.
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(
                        DownstreamHandler(directory: directory, pool: pools.pool(for: channel.eventLoop), logger: logger))
                }
            }
            .bind(host: options.host, port: options.port).get()
        let admin = try await AdminServer.bind(host: options.host, port: options.adminPort, group: group) { [metrics] head in
            Self.adminReply(head, directory: directory, metrics: metrics, draining: draining.withLockedValue { $0 })
        }
        let bound = Bound(proxy: proxy.localAddress!, admin: admin.localAddress!)
        logger.info("thaw-activator listening", metadata: [
            "proxy": "\(bound.proxy)", "admin": "\(bound.admin)",
            "targets": "\(source.initial.targets.map(\.name).joined(separator: ","))"])
        onBound(bound)

        let prober = ReadinessProber(directory: directory, eventLoopGroup: group, logger: logger)
        await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await source.watch { config in
                    directory.apply(config)
                    pools.closeIdle(except: Set(config.targets.flatMap(\.endpoints)))
                }
            }
            tasks.addTask { try await prober.run() }
            tasks.addTask { try await reporter.run(targets: { directory.targets }) }
            await gracefulShutdownOrCancellation()
            draining.withLockedValue { $0 = true }
            logger.info("shutting down: no new connections; draining queued and in-flight requests", metadata: ["deadline": "\(options.drainDeadline)"])
            try? await proxy.close()
            await Self.drain(directory, deadline: options.drainDeadline, logger: logger)
            for target in directory.targets { target.failWaiting(.shuttingDown(target: target.name)) }
            reporter.finish()
            tasks.cancelAll()
            while let result = await tasks.nextResult() {
                if case .failure(let error) = result, !(error is CancellationError) { logger.error("activator task failed", metadata: ["error": "\(error)"]) }
            }
        }
        try? await admin.close()
        logger.info("thaw-activator stopped")
    }

    private static func drain(_ directory: RouteDirectory, deadline: Duration, logger: Logger) async {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        while clock.now < end {
            let active = directory.targets.reduce(0) { $0 + $1.snapshot.activeRequests }
            if active == 0 { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        logger.warning("drain deadline passed with requests still open")
    }

    static func adminReply(_ head: HTTPRequestHead, directory: RouteDirectory, metrics: ActivatorMetrics, draining: Bool) -> AdminServer.Reply {
        switch head.uri.split(separator: "?").first.map(String.init) ?? "" {
        case "/metrics":
            metrics.refresh(directory.targets)
            return .init(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.registry.emitToString())
        case "/healthz":
            return .init(status: .ok, contentType: "text/plain", body: "ok\n")
        case "/readyz":
            return draining
                ? .init(status: .serviceUnavailable, contentType: "text/plain", body: "draining\n")
                : .init(status: .ok, contentType: "text/plain", body: "ready\n")
        case "/status":
            let targets = directory.targets.map(\.snapshot)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let body = (try? encoder.encode(["targets": targets])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return .init(status: .ok, contentType: "application/json", body: body + "\n")
        default:
            return .init(status: .notFound, contentType: "text/plain",
                         body: "not found: the admin port serves /metrics, /healthz, /readyz and /status\n")
        }
    }
}

/// One upstream pool per event loop, made on its loop and only touched there.
struct UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBound<UpstreamPool>]

    static func make(group: any EventLoopGroup, connectTimeout: TimeAmount) async throws -> UpstreamPools {
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamPool>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(UpstreamPool(eventLoop: loop, connectTimeout: connectTimeout), eventLoop: loop)
            }.get()
        }
        return UpstreamPools(pools: pools)
    }

    func pool(for eventLoop: any EventLoop) -> UpstreamPool {
        pools[ObjectIdentifier(eventLoop)]!.value
    }

    /// Drops idle connections to endpoints the routing table no longer has, on every loop.
    func closeIdle(except keep: Set<EndpointAddress>) {
        for pool in pools.values {
            pool.eventLoop.execute { pool.value.closeIdle(except: keep) }
        }
    }
}

/// Returns when graceful shutdown is requested or the task is cancelled, whichever comes first.
private func gracefulShutdownOrCancellation() async {
    await withGracefulShutdownHandler {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(100))
        }
    } onGracefulShutdown: {}
}
