import ControlHTTP
import Foundation
import Logging
import Synchronization
import NIOCore
import NIOPosix
import ScaleTargets
import ServiceLifecycle
import ThawVocabulary
import TrafficStats

/// How to run one replica of a target on this machine.
public struct LocalTarget: Sendable {
    public var name: String
    /// The model server's readiness path; the sidecar probes it and answers probes from that.
    public var readinessPath: String
    public var containerConcurrency: Int
    /// How long a new replica may take to pass its readiness check before the target is failed
    /// with the reason (Knative's `serving.knative.dev/progress-deadline`).
    public var progressDeadline: Duration
    /// The container's `readinessProbe` timing, when it declares one: nothing is routed to a replica
    /// before the initial delay, and a ready replica is probed once a period and taken out of
    /// rotation after `failureThreshold` failures in a row. Without one, a replica that passed once
    /// stays in rotation until it exits.
    public var readinessTiming: ProbeTiming?
    /// What the model server speaks; for `h2c` the readiness path names a gRPC method.
    public var `protocol`: ReplicaProtocol
    /// Where its sidecars send request and response bodies; nil: nowhere.
    public var logger: PayloadLogger?

    /// What payload events say they are about.
    public struct Origin: Sendable, Equatable {
        public var service, release, model, component: String
        public init(service: String, release: String, model: String, component: String) {
            (self.service, self.release, self.model, self.component) = (service, release, model, component)
        }
    }

    /// The component's `logger`, for its sidecars' `--logger-*` flags.
    public struct PayloadLogger: Sendable, Equatable {
        public var url: String
        public var mode: String
        public var origin: Origin
        public init(url: String, mode: String, origin: Origin) {
            (self.url, self.mode, self.origin) = (url, mode, origin)
        }

        var arguments: [String] {
            ["--logger-url", url, "--logger-mode", mode, "--service", origin.service, "--release", origin.release,
             "--model", origin.model, "--component", origin.component]
        }
    }
    /// The model server's command for a replica whose model server listens on `port`.
    public var command: @Sendable (_ port: Int) throws -> LocalCommand

    public static let defaultProgressDeadline = Duration.seconds(120)

    public init(name: String, readinessPath: String, containerConcurrency: Int, progressDeadline: Duration = defaultProgressDeadline,
                readinessTiming: ProbeTiming? = nil, protocol: ReplicaProtocol = .http1, logger: PayloadLogger? = nil,
                command: @escaping @Sendable (_ port: Int) throws -> LocalCommand) {
        self.readinessTiming = readinessTiming
        self.protocol = `protocol`
        self.logger = logger
        self.name = name
        self.readinessPath = readinessPath
        self.containerConcurrency = containerConcurrency
        self.progressDeadline = progressDeadline
        self.command = command
    }
}

/// The local driver: each replica is a model-server process with a `thaw-queue` sidecar in front,
/// both on free loopback ports, started, probed, restarted and stopped here.
///
/// Scale-down never cuts a request off: a replica leaves the published endpoints first (the
/// activator stops routing to it), then its sidecar gets SIGTERM and drains, and only when the
/// sidecar is gone does the model server get SIGTERM. A replica that exits on its own is replaced
/// with exponential backoff; after `crashLoopThreshold` crashes in a row without a replica becoming
/// ready, the target is reported failed, so requests waiting for it are answered 503 at once.
public final class LocalProcessDriver: ReplicaDriver, Service {
    public struct Options: Sendable {
        /// The sidecar executable.
        public var queueExecutable: String
        /// Where the sidecars send stats.
        public var autoscalerURL: String
        /// Where replica logs go.
        public var logDirectory: String
        /// How long a sidecar may drain on scale-down or shutdown.
        public var drainSeconds: Double = 10
        public var crashLoopThreshold = 3
        public var firstBackoff: Duration = .milliseconds(500)
        public var maxBackoff: Duration = .seconds(20)
        /// Directories put in front of each model server's PATH (where Thaw's own executables are).
        public var extraPath: [String] = []

        public init(queueExecutable: String, autoscalerURL: String, logDirectory: String) {
            self.queueExecutable = queueExecutable
            self.autoscalerURL = autoscalerURL
            self.logDirectory = logDirectory
        }
    }

    private struct Shared {
        var desired: [String: Int] = [:]
        var stopping = false
    }

    private let targets: [LocalTarget]
    private let options: Options
    private let logger: Logger
    private let group: any EventLoopGroup
    private let shared = Mutex(Shared())
    /// What the activator and the routing file follow; changed only by the supervisor loop.
    private let published: Followed<[TargetState]>
    /// Wakes the supervisor when a scale is asked for, or shutdown begins.
    private let changes = ChangeSignal()

    public init(targets: [LocalTarget], options: Options, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.targets = targets
        self.options = options
        self.group = group
        self.logger = logger
        published = Followed(targets.map { TargetState(name: $0.name) })
    }

    public func setReplicas(_ count: Int, of target: String) {
        shared.withLock { $0.desired[target] = max(0, count) }
        changes.signal()
    }

    public func watch(_ update: @escaping @Sendable ([TargetState]) -> Void) async throws {
        try await published.watch(update)
    }

    // MARK: The supervisor loop

    public func run() async throws {
        try FileManager.default.createDirectory(atPath: options.logDirectory, withIntermediateDirectories: true)
        ChildProcess.takeChildExits()
        let supervisor = Supervisor(targets: targets, options: options, logger: logger)
        await withGracefulShutdownHandler {
            // Periodic readiness probes run in this group, beside the loop; they end when it does.
            await withDiscardingTaskGroup { probes in
                while !Task.isShuttingDownGracefully, !Task.isCancelled, !shared.withLock({ $0.stopping }) {
                    _ = changes.take()
                    let desired = shared.withLock { $0.desired }
                    await supervisor.reconcile(desired: desired, group: group) { work in probes.addTask { await work() } }
                    publish(supervisor.states)
                    // Processes are looked at again soon while something is starting or stopping.
                    await changes.wait(upTo: .milliseconds(supervisor.hasPendingWork ? 25 : 100))
                }
                probes.cancelAll()
            }
        } onGracefulShutdown: {
            self.shared.withLock { $0.stopping = true }
            self.changes.signal()
        }
        logger.info("stopping every replica")
        await supervisor.stopAll(group: group) { self.publish($0) }
        published.finish()
        logger.info("all replicas stopped")
    }

    private func publish(_ states: [TargetState]) {
        if published.value != states { published.set(states) }
    }
}
