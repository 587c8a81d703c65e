import AutoscalerDaemon
import ControlHTTP
import Foundation
import LocalDriver
import Logging
import MLService
import RoutingFile
import NIOPosix
import ScaleTargets
import ScalingPolicy
import ThawVocabulary

/// Thaw's whole loop on one machine: replicas as local processes, the autoscaler deciding for them,
/// and an activator in front, all wired for one MLService file.
///
/// This module wires the autoscaler's half (`Scaling`) and describes the whole (`RunFile`); the
/// activator is added by whoever runs one (`thaw up`, in the same process as the autoscaler, or a
/// separate `thaw-activator` reading the routing file), so `thaw-autoscaler` links no proxy code.
public enum LocalCluster {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        /// The activator's main port, which routes by Host header (0 picks a free port).
        public var port = 8080
        /// Where the sidecar executable and the example programs are (added to replicas' PATH).
        public var binDirectory: String
        public var logDirectory: String
        public var drainSeconds: Double = 10
        public var timeoutSeconds: Double = TargetConfig.defaultTimeoutSeconds
        /// Cluster-wide autoscaler settings (Knative's config-autoscaler keys).
        public var config = LocalCluster.defaultConfig
        /// Ports to keep for service and predictor hosts (see `LocalPlan`).
        public var pinnedPorts: [String: Int] = [:]

        public init(binDirectory: String, logDirectory: String) {
            self.binDirectory = binDirectory
            self.logDirectory = logDirectory
        }
    }

    /// Knative's defaults, except that an `initial-scale: "0"` annotation is honoured: on one
    /// machine, starting a service with nothing running is the point.
    public static var defaultConfig: AutoscalerConfig {
        var config = AutoscalerConfig()
        config.allowZeroInitialScale = true
        return config
    }

    /// Where everything listens.
    public struct Addresses: Codable, Sendable {
        public var activator: String
        public var activatorAdmin: String
        public var autoscaler: String

        public init(activator: String, activatorAdmin: String, autoscaler: String) {
            self.activator = activator
            self.activatorAdmin = activatorAdmin
            self.autoscaler = autoscaler
        }
    }

    /// The autoscaler's half of local mode, wired to itself: the plan, the local-process driver
    /// and the autoscaler daemon. `thaw up` adds an activator in the same process; `thaw-autoscaler`
    /// runs this half alone and leaves the activator to another process.
    public struct Scaling: Sendable {
        public let plan: LocalPlan
        public let driver: LocalProcessDriver
        public let autoscaler: Autoscaler
        /// The routes and the targets' policies as planned, changed when an edit of the file applies.
        public let routes: Followed<RoutingConfig>
        public let targets: Followed<[ScaledTarget]>
        /// `host:port` of the autoscaler's intake.
        public let address: String

        /// - Parameter port: the autoscaler's port; 0 picks a free one.
        /// - Throws: `LocalPlanError` when the file cannot be planned or the sidecar is not built.
        public init(file: MLServiceFile, options: Options, port: Int, logger: Logger) throws {
            let group = MultiThreadedEventLoopGroup.singleton
            // Checked once, here: otherwise every target would crash-loop on its first replica.
            let sidecar = options.binDirectory + "/thaw-queue"
            guard FileManager.default.isExecutableFile(atPath: sidecar) else {
                throw LocalPlanError("the sidecar \(sidecar) is missing or not executable; build it (swift build)")
            }
            plan = try LocalPlan(file: file, config: options.config, timeoutSeconds: options.timeoutSeconds,
                                 pinnedPorts: options.pinnedPorts) { try FreePort.take(1)[0] }
            let listenPort = port == 0 ? try FreePort.take(1)[0] : port
            address = "\(options.host):\(listenPort)"
            var driverOptions = LocalProcessDriver.Options(
                queueExecutable: options.binDirectory + "/thaw-queue", autoscalerURL: "http://\(address)",
                logDirectory: options.logDirectory)
            driverOptions.drainSeconds = options.drainSeconds
            driverOptions.extraPath = [options.binDirectory]
            driver = LocalProcessDriver(targets: plan.targets, options: driverOptions, group: group, logger: logger.labelled("driver"))
            var autoscalerOptions = Autoscaler.Options()
            autoscalerOptions.host = options.host
            autoscalerOptions.port = listenPort
            routes = Followed(plan.routes)
            targets = Followed(plan.scaled)
            autoscaler = Autoscaler(options: autoscalerOptions, catalog: FollowedTargets(targets), driver: driver, group: group,
                                    logger: logger.labelled("autoscaler"))
        }
    }

    /// What `thaw status` needs to find and describe a running `thaw up`.
    public struct RunFile: Codable, Sendable {
        public var pid: Int32
        public var addresses: Addresses
        public var services: [ServiceSummary]
        public var logDirectory: String

        public init(pid: Int32, addresses: Addresses, services: [ServiceSummary], logDirectory: String) {
            self.pid = pid
            self.addresses = addresses
            self.services = services
            self.logDirectory = logDirectory
        }
    }

    public struct ServiceSummary: Codable, Sendable {
        public var name: String
        public var host: String
        public var port: Int
        public var transformer: String?
        public var predictorHost: String?
        /// The activator port a transformer reaches the predictors at (`PREDICTOR_HOST`).
        public var predictorPort: Int?
        public var releases: [ReleaseSummary]

        public init(name: String, host: String, port: Int, transformer: String? = nil, predictorHost: String? = nil,
                    predictorPort: Int? = nil, releases: [ReleaseSummary]) {
            self.name = name
            self.host = host
            self.port = port
            self.transformer = transformer
            self.predictorHost = predictorHost
            self.predictorPort = predictorPort
            self.releases = releases
        }
    }

    public struct ReleaseSummary: Codable, Sendable {
        public var release: String
        public var target: String
        public var host: String
        /// The share of the service's traffic it gets.
        public var trafficPercent: Int
        public var role: String
    }

    /// Where `thaw up` leaves its run file for `thaw status`.
    public static var defaultRunFilePath: String {
        let base = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? NSTemporaryDirectory()
        return (base as NSString).appendingPathComponent("thaw-up.json")
    }
}

extension Logger {
    /// The same logger with each line naming the component it comes from (driver, autoscaler, activator).
    public func labelled(_ component: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = "\(component)"
        return copy
    }
}
