import Activator
import ArgumentParser
import CommandOptions
import ControlHTTP
import Logging
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

            The admin port serves /metrics (Prometheus), /healthz, /readyz and /status (JSON). SIGTERM stops \
            accepting, drains queued and in-flight requests until --drain-seconds, then exits.
            """
    )

    @Option(name: .long, help: "Routing file (YAML or JSON) with targets and services.")
    var config: String

    @OptionGroup var proxyProcess: ProxyProcessOptions<Self>

    @OptionGroup var proxy: ProxyOptions<Self>

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
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be from 1 to 256, got \(threads)") }
        if parsedHostPorts.count != hostPorts.count {
            throw ValidationError("--host-port must be PORT=HOST with a port from 1 to 65535, e.g. 8081=digits.thaw.local; got \(hostPorts)")
        }
    }

    func run() async throws {
        let logger = logging.standardErrorLogger(label: "thaw-activator")

        let metrics = ActivatorMetrics()
        let source: RoutingFileSource
        do {
            source = try RoutingFileSource(path: config, logger: logger, onReload: metrics.recordConfigReload)
        } catch {
            throw ValidationError("\(error)")
        }
        var options = Activator.Options()
        options.host = proxyProcess.host
        options.port = proxy.port
        options.adminPort = proxyProcess.adminPort
        options.autoscaler = proxyProcess.autoscaler
        options.drainDeadline = proxy.drainDeadline
        options.hostPorts = parsedHostPorts
        let group = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? MultiThreadedEventLoopGroup.singleton
        let activator = Activator(options: options, source: source, group: group, metrics: metrics, logger: logger)
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: activator, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await services.run()
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
