import Activator
import ActivatorCore
import ArgumentParser
import CommandOptions
import ControlHTTP
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ThawVocabulary

@main
struct ThawQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-queue",
        abstract: "Thaw's sidecar: the proxy in front of one replica's model server.",
        discussion: """
            It measures the requests inside its replica (time-weighted average concurrency and request count \
            per second, like Knative's queue-proxy) and reports them to the autoscaler every second, telling \
            apart requests the activator forwarded (the Thaw-Proxied-By header) so they are not counted twice. \
            It lets at most --container-concurrency requests reach the model server at once and queues up to \
            ten times that many more (503 beyond). It answers readiness probes (requests with a Thaw-Probe \
            header, and /readyz on the admin port) only once the model server answers --readiness-path.

            In a pod, the flags can come from the environment instead (a flag wins): THAW_TARGET, or POD_NAMESPACE \
            and THAW_WORKLOAD, for --target (a cluster target is NAMESPACE/WORKLOAD); POD_NAME for --replica (the \
            Downward API's metadata.name); THAW_UPSTREAM for --upstream; THAW_READINESS_PATH for --readiness-path; \
            THAW_AUTOSCALER_URL for --autoscaler-url. The pod's readinessProbe should be an httpGet of /readyz on the \
            admin port: it answers from this sidecar's own probe of the model server.

            On SIGTERM it stops accepting connections, lets queued and in-flight requests finish until \
            --drain-seconds, then exits: a scale-down never cuts a request off. The admin port serves \
            /metrics (thaw_queue_*), /healthz, /readyz and /status.
            """
    )

    @Option(name: .long, help: "The scale target this replica belongs to (a release's predictor or a transformer). Env: THAW_TARGET, or POD_NAMESPACE and THAW_WORKLOAD.")
    var target: String?

    @Option(name: .long, help: "This replica's name, the source of its stat reports. Env: POD_NAME.")
    var replica: String?

    @Option(name: .long, help: "The model server's address, HOST:PORT. Env: THAW_UPSTREAM.")
    var upstream: String?

    @Option(name: .customLong("readiness-path"), help: "The model server's readiness path, e.g. /v2/models/digits/ready (default /). Env: THAW_READINESS_PATH.")
    var readinessPath: String?

    @Option(name: .customLong("protocol"), help: "What the model server speaks: http1, or h2c (grpc) for HTTP/2 with prior knowledge, whose --readiness-path then names a gRPC method (default /grpc.health.v1.Health/Check). Env: THAW_PROTOCOL.")
    var replicaProtocol: String?

    @OptionGroup var payloadLog: PayloadLogOptions

    @Option(name: .customLong("container-concurrency"), help: "Most requests the model server gets at once; 0 = unlimited.")
    var containerConcurrency = 0

    @OptionGroup var proxyProcess: ProxyProcessOptions<Self>

    @OptionGroup var proxy: ProxyOptions<Self>

    @Option(name: .customLong("timeout-seconds"), help: "Longest a request may take here, waiting included (504 after).")
    var timeoutSeconds = 300.0

    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("supervisor-pid"), help: "Exit (and stop --model-pid) when this parent process is gone, so a killed supervisor leaves nothing behind.")
    var supervisorPID: Int32?

    @Option(name: .customLong("model-pid"), help: "The model server's process (group) to stop when the supervisor is gone.")
    var modelPID: Int32?

    /// The settings a pod gives through its environment (the Downward API), under the flags'.
    struct Settings {
        var target: String
        var replica: String
        var upstream: EndpointAddress
        var readinessPath: String
        var autoscalerURL: String?
        var replicaProtocol: ReplicaProtocol

        init(target: String?, replica: String?, upstream: String?, readinessPath: String?, autoscalerURL: String?,
             replicaProtocol: String? = nil, environment: [String: String]) throws {
            func value(_ flag: String?, _ name: String) -> String? { flag ?? DownwardAPI.value(name, in: environment) }
            let workload = environment["POD_NAMESPACE"].flatMap { namespace in environment["THAW_WORKLOAD"].map { "\(namespace)/\($0)" } }
            guard let target = value(target, "THAW_TARGET") ?? workload else {
                throw ValidationError("give --target NAME, or THAW_TARGET, or POD_NAMESPACE and THAW_WORKLOAD in the environment")
            }
            guard let replica = value(replica, "POD_NAME") else {
                throw ValidationError("give --replica NAME, or POD_NAME in the environment (the Downward API's metadata.name)")
            }
            guard let upstreamText = value(upstream, "THAW_UPSTREAM") else {
                throw ValidationError("give --upstream HOST:PORT, or THAW_UPSTREAM in the environment: the model server's address")
            }
            guard let upstream = EndpointAddress(upstreamText) else {
                throw ValidationError("--upstream (or THAW_UPSTREAM) must be HOST:PORT, got \"\(upstreamText)\"")
            }
            let protocolText = value(replicaProtocol, "THAW_PROTOCOL") ?? "http1"
            guard let parsedProtocol = ReplicaProtocol(field: protocolText) else {
                throw ValidationError("--protocol (or THAW_PROTOCOL) must be \(ReplicaProtocol.accepted), got \"\(protocolText)\"")
            }
            self.replicaProtocol = parsedProtocol
            let path = value(readinessPath, "THAW_READINESS_PATH") ?? (parsedProtocol == .h2c ? "/grpc.health.v1.Health/Check" : "/")
            guard path.hasPrefix("/") else { throw ValidationError("--readiness-path (or THAW_READINESS_PATH) must start with /, got \"\(path)\"") }
            let autoscalerURL = value(autoscalerURL, "THAW_AUTOSCALER_URL")
            try FlagCheck.autoscalerURL(autoscalerURL)
            (self.target, self.replica, self.upstream, self.readinessPath, self.autoscalerURL) = (target, replica, upstream, path, autoscalerURL)
        }
    }

    func settings() throws -> Settings {
        try Settings(target: target, replica: replica, upstream: upstream, readinessPath: readinessPath,
                     autoscalerURL: proxyProcess.autoscalerURL, replicaProtocol: replicaProtocol, environment: ProcessInfo.processInfo.environment)
    }

    func validate() throws {
        let settings = try settings()
        _ = try payloadLog.settings(target: settings.target, replica: settings.replica, environment: ProcessInfo.processInfo.environment)
        guard (0...1000).contains(containerConcurrency) else {
            throw ValidationError("--container-concurrency must be from 0 (unlimited) to 1000, got \(containerConcurrency)")
        }
        guard timeoutSeconds > 0 else { throw ValidationError("--timeout-seconds must be above 0, got \(timeoutSeconds)") }
    }

    func run() async throws {
        let settings = try settings()
        let (target, replica, readinessPath) = (settings.target, settings.replica, settings.readinessPath)
        var logger = logging.standardErrorLogger(label: "thaw-queue")
        logger[metadataKey: "replica"] = "\(replica)"

        let routes = RoutingConfig(targets: [TargetConfig(
            name: target, hosts: [target], endpoints: [settings.upstream],
            containerConcurrency: containerConcurrency, readinessPath: readinessPath,
            queueLimit: containerConcurrency == 0 ? TargetConfig.defaultQueueLimit : 10 * containerConcurrency,
            timeoutSeconds: timeoutSeconds, protocol: settings.replicaProtocol)])
        var options = Activator.Options()
        options.host = proxyProcess.host
        options.port = proxy.port
        options.adminPort = proxyProcess.adminPort
        options.autoscaler = settings.autoscalerURL.flatMap(AutoscalerURL.init)
        options.drainDeadline = proxy.drainDeadline
        options.maxConnections = proxyProcess.maxConnections
        options.slowStartWindow = proxyProcess.slowStartWindow
        let timeouts = proxyProcess.clientTimeoutNanoseconds
        (options.headTimeout, options.bodyTimeout, options.keepAliveTimeout) =
            (.nanoseconds(timeouts.head), .nanoseconds(timeouts.body), .nanoseconds(timeouts.keepAlive))
        options.role = .sidecar(replica: replica)
        options.fixedHost = target
        options.payloadLog = try payloadLog.settings(target: target, replica: replica, environment: ProcessInfo.processInfo.environment)
        // One replica's traffic: two event loops are plenty and keep the sidecar small.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let sidecar = Activator(options: options, source: FixedRoutes(routes), group: loops,
                                metrics: ActivatorMetrics(namespace: options.role.metricsNamespace), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: sidecar, successTerminationBehavior: .gracefullyShutdownGroup)]
        if let supervisorPID {
            services.append(.init(service: SupervisorWatch(supervisor: supervisorPID, model: modelPID, logger: logger),
                                  successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// The component's `logger` (MLService and KServe): where the sidecar sends request and response
/// bodies as CloudEvents, and what the events say they are about.
struct PayloadLogOptions: ParsableArguments {
    @Option(name: .customLong("logger-url"), help: "Send request and/or response bodies to this sink as CloudEvents (http://HOST:PORT/PATH). Env: THAW_LOGGER_URL.")
    var url: String?

    @Option(name: .customLong("logger-mode"), help: "all, request or response (default all). Env: THAW_LOGGER_MODE.")
    var mode: String?

    @Option(name: .customLong("logger-queue-limit"), help: "Events that may wait for the sink; past it, new ones are dropped and counted.")
    var queueLimit = 1000

    @Option(name: .customLong("logger-max-body"), help: "Bytes of body an event may carry; a larger body is not logged (counted).")
    var maxBody = 1 << 20

    @Option(name: .customLong("service"), help: "The service this replica serves, in the events' ce-service. Env: THAW_SERVICE.")
    var service: String?

    @Option(name: .customLong("release"), help: "Its release, in ce-release. Env: THAW_RELEASE.")
    var release: String?

    @Option(name: .customLong("model"), help: "Its model, in ce-model. Env: THAW_MODEL.")
    var model: String?

    @Option(name: .customLong("component"), help: "predictor or transformer, in ce-component. Env: THAW_COMPONENT.")
    var component: String?

    /// Nil when no sink is given.
    func settings(target: String, replica: String, environment: [String: String]) throws -> PayloadLogSettings? {
        guard let url = url ?? environment["THAW_LOGGER_URL"], !url.isEmpty else { return nil }
        let modeText = mode ?? environment["THAW_LOGGER_MODE"] ?? "all"
        guard let mode = PayloadEvent.Mode(rawValue: modeText) else {
            throw ValidationError("--logger-mode (or THAW_LOGGER_MODE) must be all, request or response, got \"\(modeText)\"")
        }
        guard queueLimit >= 1, queueLimit <= 1_000_000 else { throw ValidationError("--logger-queue-limit must be from 1 to 1000000, got \(queueLimit)") }
        guard maxBody >= 0, maxBody <= 64 << 20 else { throw ValidationError("--logger-max-body must be from 0 to 67108864 bytes, got \(maxBody)") }
        let service = service ?? environment["THAW_SERVICE"] ?? target
        let origin = PayloadEvent.Origin(service: service, release: release ?? environment["THAW_RELEASE"] ?? target,
                                         model: model ?? environment["THAW_MODEL"] ?? service,
                                         component: component ?? environment["THAW_COMPONENT"] ?? "predictor", source: "thaw-queue/\(replica)")
        var settings = PayloadLogSettings(url: url, mode: mode, origin: origin)
        guard settings.sink != nil else {
            throw ValidationError("--logger-url (or THAW_LOGGER_URL) must be http://HOST:PORT/PATH, got \"\(url)\"")
        }
        settings.queueLimit = queueLimit
        settings.maxBodyBytes = maxBody
        return settings
    }
}

/// Ends the sidecar, and stops its model server, when the process that started them is gone
/// (it was killed and could not stop its replicas itself).
struct SupervisorWatch: Service {
    let supervisor: Int32
    let model: Int32?
    let logger: Logger

    func run() async throws {
        // A process learns that its parent is gone only by looking: getppid() changes to the reaper's.
        // Shutdown cancels the look-out, and then this returns without stopping anything.
        let orphaned = (try? await cancelWhenGracefulShutdown {
            while getppid() == supervisor { try await Task.sleep(for: .milliseconds(250)) }
            return true
        }) ?? false
        guard orphaned else { return }
        logger.warning("the supervisor (pid \(supervisor)) is gone; stopping the model server and this sidecar")
        if let model { kill(-model, SIGTERM) }
    }
}

extension ThawQueue: ProxyFlagDefaults, ProxyProcessDefaults {
    static let port = 8012
    static let portHelp = "Port for traffic to this replica (0 picks a free port)."
    static let drainSeconds = 30.0
    static let drainHelp = "On SIGTERM, how long queued and in-flight requests may take to finish."
    static let adminPort = 9091
    static let autoscalerHelp = "Autoscaler base URL for stat reports, e.g. http://127.0.0.1:8090."
}
