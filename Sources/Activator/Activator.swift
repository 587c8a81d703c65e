import ActivatorCore
import ControlHTTP
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import ServiceLifecycle
import Synchronization
import ThawVocabulary
import TrafficStats

/// The activator as one service: the proxy port, the admin port, readiness probing, reporting to
/// the autoscaler and following the endpoint source, started and stopped together.
///
/// The same proxy runs as each replica's sidecar (`thaw-queue`, `ProxyRole.sidecar`): one target
/// whose one endpoint is the model server, with its concurrency limit and queue. Sharing the data
/// path means framing, backpressure and failure handling are written and tested once.
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
        public var role: ProxyRole = .activator
        /// Which activator replica this is (its pod's name), when several run.
        public var instance: String?
        /// Route every request on the main port as if it were sent to this host (a sidecar's one target).
        public var fixedHost: String?
        /// More proxy ports, each routing every request as if sent to its host: a service's own port,
        /// or the address a transformer is given for its predictors, where no Host header can be set.
        public var hostPorts: [HostPort] = []
        /// How long a client may take to send a request head (from its connection or its first byte).
        public var headTimeout: TimeAmount = .seconds(60)
        /// How long a client may pause between reads of its request body.
        public var bodyTimeout: TimeAmount = .seconds(60)
        /// How long a kept-alive connection may idle between requests.
        public var keepAliveTimeout: TimeAmount = .seconds(75)
        /// Open client connections allowed on the proxy ports; nil: half the descriptors left after a reserve.
        public var maxConnections: Int?
        /// Request copies per mirror target waiting or running at once, and how long one waits at zero.
        public var mirrorQueueLimit = 100
        public var mirrorWait: TimeAmount = .seconds(10)
        /// A sidecar's payload logger (the component's `logger`); nil: no bodies are logged.
        public var payloadLog: PayloadLogSettings?
        /// Requests a newly ready endpoint gets at once (`TargetBalancer.initialWindow`); 0: no slow start.
        public var slowStartWindow = TargetBalancer<WaitingRequest>.defaultInitialWindow
        public init() {}
    }

    /// Where the servers listen once bound (port 0 picks a free one).
    public struct Bound: Sendable {
        public var proxy: SocketAddress
        public var admin: SocketAddress
        /// The bound address of each of `Options.hostPorts`, by host.
        public var hostPorts: [String: SocketAddress]
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
        let reporter = AutoscalerReporter(url: options.autoscaler, role: options.role, instance: options.instance, eventLoopGroup: group,
                                          metrics: metrics, logger: logger)
        let directory = RouteDirectory(metrics: metrics, pokes: options.role == .activator ? reporter : nil,
                                       slowStartWindow: options.slowStartWindow)
        directory.apply(source.initial)
        let draining = Draining()
        let payloadLog = try options.payloadLog.map { settings in
            guard let sink = PayloadLogSink(settings: settings, metrics: metrics, group: group, logger: logger) else {
                throw PayloadLogError(description: "the payload logger's url must be http://HOST:PORT/PATH, got \"\(settings.url)\"")
            }
            return sink
        }
        let pools = try await UpstreamPools.make(group: group, connectTimeout: options.connectTimeout)
        let mirror = RequestMirror(metrics: metrics, group: group, queueLimit: options.mirrorQueueLimit, waitLimit: options.mirrorWait)
        let descriptors = ClientConnections.raiseDescriptorLimit()
        let connections = ClientConnections(cap: options.maxConnections ?? ClientConnections.defaultCap(descriptors: descriptors),
                                            metrics: metrics.connections)

        let proxy = try await bindProxy(port: options.port, fixedHost: options.fixedHost, directory: directory, pools: pools, draining: draining,
                                        connections: connections, payloadLog: payloadLog, mirror: mirror)
        var extra: [(HostPort, any Channel)] = []
        for hostPort in options.hostPorts {
            extra.append((hostPort, try await bindProxy(port: hostPort.port, fixedHost: hostPort.host, directory: directory,
                                                        pools: pools, draining: draining, connections: connections, payloadLog: payloadLog,
                                                        mirror: mirror)))
        }
        let admin = try await ControlServer.bind(host: options.host, port: options.adminPort, group: group) { [metrics] request in
            metrics.connections.open.set(to: Double(connections.count))
            return Self.adminReply(request, directory: directory, metrics: metrics, draining: draining.isOn, role: options.role)
        }
        let bound = Bound(proxy: proxy.localAddress!, admin: admin.localAddress!,
                          hostPorts: Dictionary(extra.map { ($0.0.host, $0.1.localAddress!) }, uniquingKeysWith: { first, _ in first }))
        var listening: Logger.Metadata = [
            "proxy": "\(bound.proxy)", "admin": "\(bound.admin)", "max-connections": "\(connections.cap)",
            "targets": "\(source.initial.targets.map(\.name).joined(separator: ","))"]
        for (hostPort, channel) in extra { listening["port for \(hostPort.host)"] = "\(channel.localAddress!)" }
        logger.info("\(options.role.programName) listening", metadata: listening)
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
            if let payloadLog { tasks.addTask { await payloadLog.run() } }
            tasks.addTask { try await reporter.run(targets: { directory.targets }) }
            tasks.addTask {
                var schedule = HeapTrimSchedule()
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(2))
                    if schedule.observe(open: connections.count) {
                        HeapTrimSchedule.trim()
                        connections.metrics.heapTrims.increment()
                    }
                }
            }
            // Returns on graceful shutdown, and throws at once when the task is cancelled: either way, drain.
            try? await gracefulShutdown()
            draining.begin()
            logger.info("shutting down: no new connections; draining queued and in-flight requests", metadata: ["deadline": "\(options.drainDeadline)"])
            try? await proxy.close()
            for (_, channel) in extra { try? await channel.close() }
            connections.notifyDrain()
            await Self.drain(directory, deadline: options.drainDeadline, logger: logger)
            await payloadLog?.flush(within: .seconds(2))
            for target in directory.targets { target.failWaiting(.shuttingDown(target: target.name)) }
            reporter.finish()
            pools.closeIdle(except: [])
            tasks.cancelAll()
            while let result = await tasks.nextResult() {
                if case .failure(let error) = result, !(error is CancellationError) { logger.error("activator task failed", metadata: ["error": "\(error)"]) }
            }
        }
        try? await admin.close()
        logger.info("\(options.role.programName) stopped")
    }

    private func bindProxy(port: Int, fixedHost: String?, directory: RouteDirectory, pools: UpstreamPools,
                           draining: Draining, connections: ClientConnections, payloadLog: PayloadLogSink?,
                           mirror: RequestMirror) async throws -> any Channel {
        let settings = DownstreamSettings(role: options.role, fixedHost: fixedHost, draining: draining, headTimeout: options.headTimeout,
                                          bodyTimeout: options.bodyTimeout, keepAliveTimeout: options.keepAliveTimeout,
                                          timeouts: metrics.clientTimeouts, payloadLog: payloadLog, mirror: mirror)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536))
            .childChannelInitializer { [logger] channel in
                guard let mark = connections.admit(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.eventLoop.makeCompletedFuture {
                    // Requests are decoded by NIO; responses leave as bytes (a replica's raw response,
                    // or one of ours), so no response encoder. Pipelining and malformed requests are
                    // handled by DownstreamHandler itself.
                    let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes))
                    let http1 = DownstreamHandler(directory: directory, pool: pools.pool(for: channel.eventLoop), settings: settings, mark: mark,
                                                  logger: logger)
                    let sniffer = PrefaceSniffer { context in
                        try Self.switchToHTTP2(context.pipeline.syncOperations, replacing: (decoder, http1), directory: directory,
                                               pool: pools.http2Pool(for: channel.eventLoop), settings: settings, mark: mark,
                                               clientIP: channel.remoteAddress?.ipAddress, logger: logger)
                    }
                    try channel.pipeline.syncOperations.addHandlers(sniffer, decoder, http1)
                }
            }
            .bind(host: options.host, port: port).get()
    }

    /// The connection sent HTTP/2's preface: HTTP/2's handlers replace HTTP/1.1's, each stream
    /// served by a `StreamProxyHandler`.
    private static func switchToHTTP2(_ pipeline: ChannelPipeline.SynchronousOperations,
                                      replacing http1: (ByteToMessageHandler<HTTPRequestDecoder>, DownstreamHandler),
                                      directory: RouteDirectory, pool: UpstreamHTTP2Pool, settings: DownstreamSettings,
                                      mark: ClientConnections.Mark, clientIP: String?, logger: Logger) throws -> EventLoopFuture<Void> {
        let decoderGone = pipeline.eventLoop.makePromise(of: Void.self)
        pipeline.removeHandler(http1.0, promise: decoderGone)
        pipeline.removeHandler(http1.1, promise: nil)
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = UpstreamHTTP2Pool.settings
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = UpstreamHTTP2Pool.streamWindow
        let loopBoundPool = NIOLoopBound(pool, eventLoop: pool.eventLoop)
        let connectionHandler = ClientHTTP2Connection(mark: mark, keepAliveTimeout: settings.keepAliveTimeout)
        let events = ClientHTTP2Connection.StreamEvents(connection: NIOLoopBound(connectionHandler, eventLoop: pipeline.eventLoop))
        _ = try pipeline.configureHTTP2Pipeline(mode: .server, connectionConfiguration: connection, streamConfiguration: stream,
                                                streamDelegate: events) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    StreamProxyHandler(directory: directory, pool: loopBoundPool.value, settings: settings, clientIP: clientIP, logger: logger))
            }
        }
        try pipeline.addHandler(connectionHandler)
        return decoderGone.futureResult
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

    static func adminReply(_ request: ControlServer.Request, directory: RouteDirectory, metrics: ActivatorMetrics, draining: Bool,
                           role: ProxyRole = .activator) -> ControlServer.Reply {
        switch request.path {
        case "/metrics":
            metrics.refresh(directory.targets)
            return .init(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.exposition())
        case "/healthz":
            return .text("ok")
        case "/readyz":
            if draining { return .text("draining", status: .serviceUnavailable) }
            if case .sidecar = role, !directory.targets.contains(where: \.hasReadyEndpoint) {
                return .text("the model server is not ready yet", status: .serviceUnavailable)
            }
            return .text("ready")
        case "/status":
            let targets = directory.targets.map(\.snapshot)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let body = (try? encoder.encode(["targets": targets])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return .init(status: .ok, contentType: "application/json", body: body + "\n")
        default:
            return .text("not found: the admin port serves /metrics, /healthz, /readyz and /status", status: .notFound)
        }
    }
}

/// Which hop the proxy is; everything else about the data path is the same.
public enum ProxyRole: Sendable, Equatable {
    /// In front of every replica: buffers for targets without a ready replica, pokes the
    /// autoscaler, and reports the seconds in which it held requests.
    case activator
    /// In front of one replica's model server (`thaw-queue`): answers readiness probes from its own
    /// probe of the model server, tells requests the activator forwarded apart, and reports every
    /// second, idle ones included, as `replica`.
    case sidecar(replica: String)

    var programName: String {
        switch self {
        case .activator: "thaw-activator"
        case .sidecar: "thaw-queue"
        }
    }

    var isSidecar: Bool {
        if case .sidecar = self { true } else { false }
    }

    /// The `source` of its stat reports and pokes: the autoscaler subtracts a replica's proxied
    /// requests from what the activator reported, and tells the two apart by this; with several
    /// activators, `instance` tells them apart, so their waiting requests add up.
    func statSource(instance: String?) -> String {
        switch self {
        case .activator: instance.map { "\(ProxyHeaders.activator)/\($0)" } ?? ProxyHeaders.activator
        case .sidecar(let replica): replica
        }
    }

    /// The namespace of its Prometheus series (`thaw_activator_*`, `thaw_queue_*`).
    public var metricsNamespace: String { isSidecar ? "thaw_queue" : "thaw_activator" }
}

/// Set once shutdown begins; read by every connection's readiness answers.
final class Draining: Sendable {
    private let flag = Atomic(false)
    var isOn: Bool { flag.load(ordering: .acquiring) }
    func begin() { flag.store(true, ordering: .releasing) }
}

/// What every connection of one listener shares.
final class DownstreamSettings: Sendable {
    let role: ProxyRole
    let fixedHost: String?
    let draining: Draining
    let headTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let keepAliveTimeout: TimeAmount
    let timeouts: ActivatorMetrics.ClientTimeouts
    let clientTimeouts: ClientConnectionState.Timeouts
    /// Where a sidecar logs request and response bodies; nil: none are kept.
    let payloadLog: PayloadLogSink?
    /// Sends copies of mirrored services' requests; nil in a test that has none.
    let mirror: RequestMirror?

    init(role: ProxyRole, fixedHost: String?, draining: Draining, headTimeout: TimeAmount, bodyTimeout: TimeAmount,
         keepAliveTimeout: TimeAmount, timeouts: ActivatorMetrics.ClientTimeouts, payloadLog: PayloadLogSink? = nil,
         mirror: RequestMirror? = nil) {
        self.payloadLog = payloadLog
        self.mirror = mirror
        self.role = role
        self.fixedHost = fixedHost
        self.draining = draining
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.timeouts = timeouts
        clientTimeouts = ClientConnectionState.Timeouts(head: UInt64(headTimeout.nanoseconds), body: UInt64(bodyTimeout.nanoseconds),
                                                        keepAlive: UInt64(keepAliveTimeout.nanoseconds))
    }
}

/// One pair of upstream pools per event loop (HTTP/1.1 connections, HTTP/2 connections), made on
/// its loop and only touched there.
struct UpstreamPools: Sendable {
    private struct LoopPools {
        let http1: UpstreamPool
        let http2: UpstreamHTTP2Pool
    }

    private let pools: [ObjectIdentifier: NIOLoopBound<LoopPools>]

    static func make(group: any EventLoopGroup, connectTimeout: TimeAmount) async throws -> UpstreamPools {
        var pools: [ObjectIdentifier: NIOLoopBound<LoopPools>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(LoopPools(http1: UpstreamPool(eventLoop: loop, connectTimeout: connectTimeout),
                                       http2: UpstreamHTTP2Pool(eventLoop: loop, connectTimeout: connectTimeout)), eventLoop: loop)
            }.get()
        }
        return UpstreamPools(pools: pools)
    }

    func pool(for eventLoop: any EventLoop) -> UpstreamPool {
        pools[ObjectIdentifier(eventLoop)]!.value.http1
    }

    func http2Pool(for eventLoop: any EventLoop) -> UpstreamHTTP2Pool {
        pools[ObjectIdentifier(eventLoop)]!.value.http2
    }

    /// Drops idle connections to endpoints the routing table no longer has, on every loop.
    func closeIdle(except keep: Set<EndpointAddress>) {
        for pool in pools.values {
            pool.eventLoop.execute {
                pool.value.http1.closeIdle(except: keep)
                pool.value.http2.closeIdle(except: keep)
            }
        }
    }
}
