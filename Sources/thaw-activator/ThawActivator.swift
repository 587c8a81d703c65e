import Activator
import ArgumentParser
import CommandOptions
import ControlHTTP
import Foundation
import KubernetesDriver
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ThawVocabulary

@main
struct ThawActivator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-activator",
        abstract: "Thaw's activator: the buffering, load-balancing reverse proxy in front of every model release.",
        discussion: """
            Requests are routed by Host header (and optional path prefix) to a target: a release's predictor \
            or a transformer. A service host splits traffic between its default and canary release. A request \
            for a target with no ready replica waits in a bounded queue (503 when full, 504 after timeoutSeconds) \
            and pokes the autoscaler at once; it is forwarded the moment a replica passes its readiness probe.

            The routing file (YAML or JSON) is reloaded when it changes; a broken edit keeps the previous routes:

              targets:
                - name: mnist-v1
                  hosts: [mnist-v1.local]
                  endpoints: ["127.0.0.1:9001"]   # may be empty: scaled to zero
                  containerConcurrency: 0         # per-endpoint capacity, 0 = unlimited
                  readinessPath: /v2/models/mnist/ready
                  queueLimit: 10000
                  timeoutSeconds: 300
                - name: mnist-v2
                  hosts: [mnist-v2.local]
                  endpoints: []
                  readinessPath: /v2/models/mnist/ready
              services:
                - name: mnist
                  hosts: [mnist.local]
                  default: mnist-v1
                  canary: mnist-v2
                  canaryTrafficPercent: 20

            On a cluster (--kubeconfig, or in a pod with no --config), the routes come from the workloads that \
            opted in (autoscaling.knative.dev/class: kpa.thaw.dev on the Pod template): each workload answers \
            NAME.NAMESPACE.svc.cluster.local, NAME.NAMESPACE.svc and NAME.NAMESPACE; a service (label \
            serving.thaw.dev/service) answers its own name the same ways and splits between its releases as its \
            Service object's serving.thaw.dev/* annotations say; requests go to each pod's IP at its thaw-queue port.

            The admin port serves /metrics (Prometheus), /healthz, /readyz and /status (JSON). SIGTERM stops \
            accepting, drains queued and in-flight requests until --drain-seconds, then exits.
            """
    )

    @Option(name: .long, help: "Routing file (YAML or JSON) with targets and services.")
    var config: String?

    @OptionGroup var cluster: ClusterOptions

    @OptionGroup var proxyProcess: ProxyProcessOptions<Self>

    @OptionGroup var proxy: ProxyOptions<Self>

    @Option(name: .customLong("instance"), help: "This activator's name when several run, so the autoscaler adds up their waiting requests (default: $POD_NAME, set by the manifests).")
    var instance: String?

    @Option(name: .customLong("mirror-queue-limit"), help: "Request copies per mirror target that may wait or run at once; past it they are dropped and counted.")
    var mirrorQueueLimit = 100

    @Option(name: .customLong("mirror-wait-seconds"), help: "How long a request copy may wait for a mirror target at zero before it is dropped and counted.")
    var mirrorWaitSeconds = 10.0

    @Option(name: .customLong("threads"), help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("host-port"), help: ArgumentHelp("One more proxy port whose requests all route as if sent to HOST (repeatable): a service's own port, or a transformer's PREDICTOR_HOST.", valueName: "PORT=HOST"))
    var hostPorts: [String] = []

    private var parsedHostPorts: [HostPort] {
        hostPorts.compactMap { text in
            let parts = text.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let port = Int(parts[0]), (1...65535).contains(port), !parts[1].isEmpty else { return nil }
            return HostPort(port: port, host: String(parts[1]))
        }
    }

    func validate() throws {
        if cluster.kubeconfig != nil, config != nil {
            throw ValidationError("give either --config (a routing file) or --kubeconfig (a cluster), not both")
        }
        if config == nil, !cluster.selected(localFile: nil) {
            throw ValidationError("give --config PATH (a routing file) or --kubeconfig PATH (a cluster); in a pod, the service account is used")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
        if parsedHostPorts.count != hostPorts.count {
            throw ValidationError("--host-port must be PORT=HOST with a port from 1 to 65535, e.g. 8081=digits.thaw.local; got \(hostPorts)")
        }
    }

    func run() async throws {
        let logger = logging.standardErrorLogger(label: "thaw-activator")
        try FlagCheck.portIsFree(proxy.port, host: proxyProcess.host)
        try FlagCheck.portIsFree(proxyProcess.adminPort, host: proxyProcess.host, flag: "--admin-port")
        for hostPort in parsedHostPorts { try FlagCheck.portIsFree(hostPort.port, host: proxyProcess.host, flag: "--host-port") }

        let metrics = ActivatorMetrics()
        let source: any EndpointSource
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let config, !cluster.selected(localFile: config) {
            do {
                source = try RoutingFileSource(path: config, logger: logger, onReload: metrics.recordConfigReload)
            } catch {
                throw ValidationError("\(error)")
            }
        } else {
            let (watch, defaults) = try cluster.watchWithDefaults(logger: logger)
            source = ClusterRoutes(cluster: watch)
            services.append(.init(service: watch))
            if let defaults { services.append(.init(service: defaults)) }
        }
        var options = Activator.Options()
        options.host = proxyProcess.host
        options.port = proxy.port
        options.adminPort = proxyProcess.adminPort
        options.autoscaler = proxyProcess.autoscaler
        options.drainDeadline = proxy.drainDeadline
        options.maxConnections = proxyProcess.maxConnections
        options.slowStartWindow = proxyProcess.slowStartWindow
        guard (1...100_000).contains(mirrorQueueLimit) else { throw ValidationError("--mirror-queue-limit must be from 1 to 100000, got \(mirrorQueueLimit)") }
        guard mirrorWaitSeconds > 0, mirrorWaitSeconds <= 3600 else { throw ValidationError("--mirror-wait-seconds must be above 0 and at most 3600, got \(mirrorWaitSeconds)") }
        (options.mirrorQueueLimit, options.mirrorWait) = (mirrorQueueLimit, .milliseconds(Int64(mirrorWaitSeconds * 1000)))
        let timeouts = proxyProcess.clientTimeoutNanoseconds
        (options.headTimeout, options.bodyTimeout, options.keepAliveTimeout) =
            (.nanoseconds(timeouts.head), .nanoseconds(timeouts.body), .nanoseconds(timeouts.keepAlive))
        options.hostPorts = parsedHostPorts
        options.instance = instance ?? DownwardAPI.value("POD_NAME")
        let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? MultiThreadedEventLoopGroup.singleton
        let activator = Activator(options: options, source: source, group: group, metrics: metrics, logger: logger)
        let serviceGroup = ServiceGroup(configuration: .init(
            // The cluster watch first: a group stops its services last to first, so the routes keep
            // following the cluster while the activator drains.
            services: services + [.init(service: activator, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await serviceGroup.run()
    }
}

/// The activator's routes on a cluster: what the workloads that opted in, their pods and their
/// services' Service objects say, applied only when they changed.
struct ClusterRoutes: EndpointSource {
    let cluster: ClusterWatch
    var initial: RoutingConfig { RoutingConfig() }

    func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        var last: RoutingConfig?
        for await view in cluster.views() where view.routes != last {
            last = view.routes
            apply(view.routes)
        }
    }
}

extension ThawActivator: ProxyFlagDefaults, ProxyProcessDefaults {
    static let port = 8080
    static let portHelp = "Proxy port for user traffic (0 picks a free port)."
    static let drainSeconds = 30.0
    static let drainHelp = "On SIGTERM, how long queued and in-flight requests may take to finish."
    static let adminPort = 9090
    static let autoscalerHelp = "Autoscaler base URL for pokes and stats, e.g. http://127.0.0.1:8090."
}
