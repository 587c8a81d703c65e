import Activator
import AutoscalerDaemon
import ControlHTTP
import LocalMode
import Logging
import MLService
import NIOPosix
import ServiceLifecycle
import ThawVocabulary

/// The whole local cluster in this process: local mode's autoscaler half with an activator in
/// front of the same driver. `thaw up` and `thaw demo` run exactly this.
struct InProcessCluster: Sendable {
    let scaling: LocalCluster.Scaling
    let activator: Activator
    let addresses: LocalCluster.Addresses

    var plan: LocalPlan { scaling.plan }
    var autoscaler: Autoscaler { scaling.autoscaler }

    init(file: MLServiceFile, options: LocalCluster.Options, logger: Logger) throws {
        scaling = try LocalCluster.Scaling(file: file, options: options, port: 0, logger: logger)
        let adminPort = try FreePort.take(1)[0]
        let mainPort = options.port == 0 ? try FreePort.take(1)[0] : options.port
        addresses = LocalCluster.Addresses(activator: "\(options.host):\(mainPort)", activatorAdmin: "\(options.host):\(adminPort)",
                                           autoscaler: scaling.address)
        var activatorOptions = Activator.Options()
        activatorOptions.host = options.host
        activatorOptions.port = mainPort
        activatorOptions.adminPort = adminPort
        activatorOptions.autoscaler = AutoscalerURL("http://\(addresses.autoscaler)")
        activatorOptions.drainDeadline = .seconds(options.drainSeconds)
        activatorOptions.hostPorts = scaling.plan.hostPorts
        activator = Activator(options: activatorOptions, source: DriverRoutes(routes: scaling.routes, driver: scaling.driver),
                              group: MultiThreadedEventLoopGroup.singleton, metrics: ActivatorMetrics(), logger: logger.labelled("activator"))
    }

    /// The services in start order. A graceful shutdown runs in reverse: the activator stops
    /// taking requests and drains first, then replicas stop, then the autoscaler.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [.init(service: scaling.autoscaler), .init(service: scaling.driver), .init(service: activator)]
    }

    func runFile(logDirectory: String) -> LocalCluster.RunFile {
        LocalCluster.RunFile(pid: getpid(), addresses: addresses, services: plan.services, logDirectory: logDirectory)
    }
}
