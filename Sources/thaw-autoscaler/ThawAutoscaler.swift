import ArgumentParser
import CommandOptions
import Foundation
import LocalMode
import Logging
import MLService
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

            This executable runs it with the local driver: the targets of an MLService file, each replica a local \
            model-server process behind a thaw-queue sidecar. It writes the routing file a separate activator follows \
            and prints the thaw-activator command that goes with it. (`thaw up` runs the same pieces in one process.)

            Serves /metrics (thaw_autoscaler_*), /healthz, /readyz and /status (JSON).
            """
    )

    @Argument(help: "The YAML file with MLService and MLServiceRuntime documents.")
    var file: String

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port for stats, pokes, metrics and status (0 picks a free port).")
    var port = 8090

    @Option(name: .customLong("routes-file"), help: "The routing file to keep up to date for thaw-activator --config.")
    var routesFile: String

    @Option(name: .customLong("log-dir"), help: "Where replica logs go. Default: a new directory under /tmp.")
    var logDirectory: String?

    @Option(name: .customLong("drain-seconds"), help: "How long requests may take to finish on scale-down and shutdown.")
    var drainSeconds = 10.0

    @OptionGroup var logging: LogOptions

    func validate() throws {
        try FlagCheck.port(port)
        try FlagCheck.drainSeconds(drainSeconds)
    }

    func run() async throws {
        let logger = logging.standardErrorLogger(label: "thaw-autoscaler")

        let logDirectory = self.logDirectory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("thaw-autoscaler-\(getpid())")
        let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        var options = LocalCluster.Options(binDirectory: binDirectory, logDirectory: logDirectory)
        options.host = host
        options.drainSeconds = drainSeconds
        let scaling: LocalCluster.Scaling
        do {
            scaling = try LocalCluster.Scaling(file: try MLServiceFile.load(contentsOf: file), options: options, port: port, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let (plan, driver, autoscaler) = (scaling.plan, scaling.driver, scaling.autoscaler)
        for warning in plan.warnings { logger.warning("\(warning)") }
        let routes = RoutesFile(path: routesFile, routes: plan.routes, driver: driver, logger: logger)
        do {
            try routes.writeInitial()
        } catch {
            throw ValidationError("--routes-file \(routesFile): cannot write it: \(error)")
        }

        let hostPorts = plan.hostPorts.map { "--host-port \($0.port)=\($0.host)" }.joined(separator: " ")
        print("thaw-autoscaler: http://\(scaling.address); routes in \(routesFile); replica logs in \(logDirectory)")
        print("run the activator with: thaw-activator --config \(routesFile) --autoscaler-url http://\(scaling.address) \(hostPorts)")
        fflush(nil)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: autoscaler), .init(service: routes, successTerminationBehavior: .ignore), .init(service: driver)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
