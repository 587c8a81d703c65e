import ArgumentParser
import AutoscalerDaemon
import CommandOptions
import ConfigFields
import Foundation
import KubernetesDriver
import LocalMode
import Logging
import MLService
import ScalingPolicy
import ServiceLifecycle

@main
struct ThawAutoscaler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-autoscaler",
        abstract: "Thaw's autoscaler daemon: stats and pokes in, a decision per target, replicas set through a driver.",
        discussion: """
            Receives stat reports (POST /v1/stats) from activators and thaw-queue sidecars and pokes (POST /v1/poke) \
            from activators, keeps stable and panic windows per target, and decides every 2 seconds, and at once on a \
            poke or on a report that crosses the panic threshold. Missing stats from ready replicas hold the scale.

            On a cluster (--kubeconfig, or in a pod with no FILE): the targets are the Deployments and StatefulSets \
            whose Pod template has autoscaling.knative.dev/class: kpa.thaw.dev, scaled through their scale \
            subresource; their pods say which replicas are up. A workload with invalid annotations, or one an HPA or \
            a KEDA ScaledObject scales, is left alone, with a Kubernetes Event saying why.

            With FILE, it runs the local driver: the targets of an MLService file, each replica a local model-server \
            process behind a thaw-queue sidecar. It writes the routing file a separate activator follows and prints \
            the thaw-activator command that goes with it. (`thaw up` runs the same pieces in one process.) Like \
            `thaw up`, it follows FILE: a changed split, replica bounds or autoscaling annotations apply at once (the \
            routing file is rewritten); other edits are logged as needing a restart.

            Serves /metrics (thaw_autoscaler_*), /healthz, /readyz and /status (JSON).
            """
    )

    @Argument(help: "Local mode: the YAML file with MLService and MLServiceRuntime documents.")
    var file: String?

    @OptionGroup var cluster: ClusterOptions

    @OptionGroup(title: "High availability (on a cluster)") var election: LeaderElectionOptions

    @Option(name: .customLong("advertise-address"), help: ArgumentHelp("With --leader-elect: where the other replicas reach this one's intake while it leads (default: $POD_IP and --port).", valueName: "HOST:PORT"))
    var advertiseAddress: String?

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port for stats, pokes, metrics and status (0 picks a free port).")
    var port = 8090

    @Option(name: .customLong("routes-file"), help: "Local mode: the routing file to keep up to date for thaw-activator --config.")
    var routesFile: String?

    @Option(name: .customLong("log-dir"), help: "Where replica logs go. Default: a new directory under /tmp.")
    var logDirectory: String?

    @Option(name: .customLong("drain-seconds"), help: "How long requests may take to finish on scale-down and shutdown.")
    var drainSeconds = 10.0

    @OptionGroup var logging: LogOptions

    func validate() throws {
        try FlagCheck.port(port)
        try FlagCheck.drainSeconds(drainSeconds)
        if cluster.kubeconfig != nil, file != nil {
            throw ValidationError("give either FILE (local mode) or --kubeconfig (a cluster), not both")
        }
        if !cluster.selected(localFile: file) {
            guard file != nil else { throw ValidationError("give FILE (local mode) or --kubeconfig PATH (a cluster); in a pod, the service account is used") }
            guard routesFile != nil else { throw ValidationError("local mode needs --routes-file PATH: the routing file thaw-activator --config follows") }
        }
    }

    func run() async throws {
        let logger = logging.standardErrorLogger(label: "thaw-autoscaler")
        guard let file, let routesFile, !cluster.selected(localFile: file) else {
            return try await runOnCluster(logger: logger)
        }

        let logDirectory = self.logDirectory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("thaw-autoscaler-\(getpid())")
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        var options = LocalCluster.Options(binDirectory: binDirectory, logDirectory: logDirectory)
        options.host = host
        options.drainSeconds = drainSeconds
        // The activator's --host-port addresses are kept across restarts: a running activator
        // listens on them and running transformers were given them as PREDICTOR_HOST.
        let portsFile = routesFile + ".ports.json"
        options.pinnedPorts = (try? JSONDecoder().decode([String: Int].self, from: Data(contentsOf: URL(fileURLWithPath: portsFile)))) ?? [:]
        let scaling: LocalCluster.Scaling
        let services: MLServiceFile
        do {
            services = try MLServiceFile.load(contentsOf: file)
            scaling = try LocalCluster.Scaling(file: services, options: options, port: port, logger: logger)
        } catch {
            // A file's error names its file and line; a plan's may only know its service.
            throw ValidationError(error is ConfigError ? "\(error)" : "\(file): \(error)")
        }
        let (plan, driver, autoscaler) = (scaling.plan, scaling.driver, scaling.autoscaler)
        for warning in plan.warnings { logger.warning("\(warning)") }
        let routes = RoutesFile(path: routesFile, routes: scaling.routes, driver: driver, logger: logger)
        let follower = ServiceFileFollower(path: file, running: services, scaling: scaling, options: options, logger: logger)
        do {
            try routes.writeInitial()
        } catch {
            throw ValidationError("--routes-file \(routesFile): cannot write it: \(error)")
        }

        let pinned = Dictionary(plan.hostPorts.map { ($0.host, $0.port) }, uniquingKeysWith: { first, _ in first })
        if pinned != options.pinnedPorts {
            do {
                try JSONEncoder().encode(pinned).write(to: URL(fileURLWithPath: portsFile), options: .atomic)
            } catch {
                logger.warning("cannot keep the activator's ports for the next start", metadata: ["file": "\(portsFile)", "error": "\(error)"])
            }
        } else if !pinned.isEmpty {
            logger.info("kept the activator's ports from the previous start", metadata: ["file": "\(portsFile)"])
        }
        let hostPorts = plan.hostPorts.map { "--host-port \($0.port)=\($0.host)" }.joined(separator: " ")
        print("thaw-autoscaler: http://\(scaling.address); routes in \(routesFile); replica logs in \(logDirectory)")
        print("run the activator with: thaw-activator --config \(routesFile) --autoscaler-url http://\(scaling.address) \(hostPorts)")
        fflush(nil)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: autoscaler), .init(service: routes, successTerminationBehavior: .ignore), .init(service: driver),
                       .init(service: follower)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The daemon on a cluster: the annotated workloads are the targets, scaled through the API.
    func runOnCluster(logger: Logger) async throws {
        let (watch, defaults) = try cluster.watchWithDefaults(logger: logger)
        var options = Autoscaler.Options()
        options.host = host
        options.port = port
        let elector = election.elector(client: watch.client, logger: logger)
        options.leading = elector?.leading
        if let elector { options.leaderAddress = { elector.leaderAddress } }
        var mayWrite: (@Sendable () -> Bool)?
        if let elector { mayWrite = { elector.mayWrite() } }
        let driver = KubernetesReplicaDriver(cluster: watch, logger: logger, mayWrite: mayWrite)
        let advertised = advertiseAddress
        let autoscaler = Autoscaler(options: options, catalog: ClusterCatalog(cluster: watch), driver: driver, logger: logger) { address in
            // Where a stand-by forwards stats and pokes while this replica leads: the pod's IP in a pod.
            let podIP = DownwardAPI.value("POD_IP")
            if let elector, let host = podIP ?? address.ipAddress, let port = address.port {
                elector.advertise(advertised ?? "\(host):\(port)")
            }
            print("thaw-autoscaler: http://\(address.ipAddress ?? "?"):\(address.port ?? 0)")
            fflush(nil)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: watch), .init(service: NoticeRecorder(cluster: watch, logger: logger, mayWrite: mayWrite)), .init(service: autoscaler)]
        if let defaults { services.append(.init(service: defaults)) }
        if let elector { services.append(.init(service: elector)) }
        let group = ServiceGroup(configuration: .init(
            // The cluster watch first: a group stops its services last to first, so the autoscaler
            // stops before the view it decides on does.
            // The elector last: it stops first and hands the Lease back while this replica still runs.
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The autoscaler's targets on a cluster: the workloads that opted in, at the scale they have.
struct ClusterCatalog: TargetCatalog {
    let cluster: ClusterWatch
    var initial: [ScaledTarget] { [] }

    func watch(_ update: @escaping @Sendable ([ScaledTarget]) -> Void) async throws {
        for await view in cluster.views() {
            update(view.targets.map { ScaledTarget(name: $0.name, policy: $0.policy, current: $0.replicas) })
        }
    }
}
