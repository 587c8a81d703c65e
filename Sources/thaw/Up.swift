import ArgumentParser
import CommandOptions
import ConfigFields
import AutoscalerDaemon
import Foundation
import LocalMode
import ScaleTargets
import Logging
import MLService
import ServiceLifecycle

/// `thaw up`: Thaw's whole loop on this machine for an MLService file.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run MLService files in local mode: activator, autoscaler, and replicas as local processes.",
        discussion: """
            Reads MLService and MLServiceRuntime documents (apiVersion tensorstack.dev/v1beta1). Each release's \
            predictor and each transformer is scaled on its own, from zero when minReplicas is 0, by the \
            autoscaling.knative.dev/* annotations of its pod template. A replica is the runtime's (or the \
            container's) command run as a process, with its port in $PORT and {{.PORT}}, and a thaw-queue \
            sidecar in front. A transformer reaches the predictors at $PREDICTOR_HOST, through the activator, \
            where the default/canary split applies.

            While it runs, a status table stays on screen (plain log lines when stdout is not a terminal); \
            `thaw status` prints the same table from another shell. Ctrl-C or SIGTERM drains requests, stops \
            every replica and exits.

            It follows FILE: an edit of the split (default, canary, canaryTrafficPercent), the replica bounds \
            or the autoscaling annotations applies within a second, without a restart; an edit of what \
            replicas run (commands, models, readiness) or of which releases exist is logged as needing a \
            restart, and a broken edit is logged with its line. Neither changes what runs.
            """
    )

    @Argument(help: "The YAML file with MLService and MLServiceRuntime documents.")
    var file: String

    @OptionGroup var cluster: ClusterOptions

    @Flag(name: .long, help: "Print log lines instead of the live status table, even on a terminal.")
    var plain = false

    @Flag(name: .long, help: "Check the file (fields, templates, commands on PATH, file:// model paths, the port) and exit without starting anything.")
    var check = false

    func run() async throws {
        if check {
            try cluster.check(file: file)
            return
        }
        let terminal = isatty(STDOUT_FILENO) == 1 && !plain
        let setup = try cluster.setUp(file: file, logToFile: terminal)
        var services = setup.cluster.services
        let runFile = Followed(setup.runFile)
        let runFilePath = cluster.runFilePath
        services.append(.init(service: ServiceFileFollower(path: file, running: setup.file, scaling: setup.cluster.scaling, options: setup.options,
                                                           logger: setup.logger.labelled("file")) { plan in
            // `thaw status` and the status table show the new split.
            var updated = runFile.value
            updated.services = plan.services
            runFile.set(updated)
            ClusterOptions.write(updated, to: runFilePath)
        }))
        services.append(.init(service: StatusView(cluster: setup.cluster, runFile: runFile, events: setup.events, terminal: terminal)))
        try await runGroup(services, logger: setup.logger)
        try? FileManager.default.removeItem(atPath: cluster.runFilePath)
    }
}

/// Options shared by `thaw up` and `thaw demo`.
struct ClusterOptions: ParsableArguments {
    @OptionGroup var proxy: ProxyOptions<Self>

    @Option(name: .customLong("log-dir"), help: "Where replica logs (and thaw's own log, under the live view) go. Default: a new directory under /tmp.")
    var logDirectory: String?

    @Option(name: .customLong("timeout-seconds"), help: "Longest a request may wait and run (504 after).")
    var timeoutSeconds = 300.0

    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("run-file"), help: "Where to write the addresses `thaw status` reads.")
    var runFilePath = LocalCluster.defaultRunFilePath

    func validate() throws {
        guard timeoutSeconds > 0 else { throw ValidationError("--timeout-seconds must be above 0, got \(timeoutSeconds)") }
    }

    struct Setup {
        var cluster: InProcessCluster
        var file: MLServiceFile
        var options: LocalCluster.Options
        var runFile: LocalCluster.RunFile
        var logger: Logger
        var events: EventLog?
    }

    /// Reads the file, builds the cluster, sets up logging, prints the addresses and writes the run file.
    func setUp(file: String, logToFile: Bool) throws -> Setup {
        let logDirectory = self.logDirectory ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("thaw-up-\(getpid())")
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
        var events: EventLog?
        var logger: Logger
        if logToFile {
            let log = EventLog(path: logDirectory + "/thaw.log")
            events = log
            let level = logging.level
            LoggingSystem.bootstrap { label in
                var handler = log.handler(label: label)
                handler.logLevel = level
                return handler
            }
            logger = Logger(label: "thaw")
            logger.logLevel = level
        } else {
            logger = logging.standardErrorLogger(label: "thaw")
        }

        let services = try loadChecked(file)
        var options = LocalCluster.Options(binDirectory: binDirectory, logDirectory: logDirectory)
        options.port = proxy.port
        options.drainSeconds = proxy.drainSeconds
        options.timeoutSeconds = timeoutSeconds
        let cluster: InProcessCluster
        do {
            cluster = try InProcessCluster(file: services, options: options, logger: logger)
        } catch {
            throw Self.planFailure(error, file: file)
        }
        try preflight(cluster.plan, services, file: file)
        let runFile = cluster.runFile(logDirectory: logDirectory)
        print(Self.describe(runFile))
        fflush(nil)
        Self.write(runFile, to: runFilePath)
        return Setup(cluster: cluster, file: services, options: options, runFile: runFile, logger: logger, events: events)
    }

    static func write(_ runFile: LocalCluster.RunFile, to path: String) {
        if let data = try? JSONEncoder().encode(runFile) {
            FileManager.default.createFile(atPath: path, contents: data)
        }
    }

    /// Where a replica's program is looked up: Thaw's own directory first, then PATH (as the driver does).
    var binDirectory: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    /// The file read, with at least one service, and `--port` free: what both `setUp` and `--check` need first.
    func loadChecked(_ file: String) throws -> MLServiceFile {
        let services: MLServiceFile
        do {
            services = try MLServiceFile.load(contentsOf: file)
            try FlagCheck.portIsFree(proxy.port)
        } catch {
            throw CommandFailure("\(error)")
        }
        guard !services.services.isEmpty else {
            throw CommandFailure("\(file): no MLService documents (kind: MLService); nothing to run")
        }
        return services
    }

    /// Prints the plan's warnings, and refuses to go on when a replica could not start.
    func preflight(_ plan: LocalPlan, _ services: MLServiceFile, file: String) throws {
        for warning in plan.warnings { print("warning: \(warning)") }
        // Where a replica's program is looked up: Thaw's own directory first, then PATH (as the driver does).
        let searchPath = [binDirectory] + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        let problems = Preflight.problems(plan: plan, file: services, searchPath: searchPath)
        guard problems.isEmpty else {
            throw CommandFailure("\(file): cannot start:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
    }

    /// `thaw up --check`: everything `setUp` checks before it starts, and nothing started.
    func check(file: String) throws {
        let services = try loadChecked(file)
        var next = 0
        let plan: LocalPlan
        do {
            plan = try LocalPlan(file: services, config: LocalCluster.defaultConfig, timeoutSeconds: timeoutSeconds) {
                next += 1
                return next
            }
        } catch {
            throw Self.planFailure(error, file: file)
        }
        try preflight(plan, services, file: file)
        print("\(file): ok: \(plan.targets.count) targets (\(plan.targets.map(\.name).joined(separator: ", "))), nothing started")
    }

    /// A plan's error names its file (and line, when it is about one annotation) once.
    static func planFailure(_ error: any Error, file: String) -> CommandFailure {
        CommandFailure(error is ConfigError ? "\(error)" : "\(file): \(error)")
    }

    static func describe(_ run: LocalCluster.RunFile) -> String {
        var lines = ["thaw up: activator http://\(run.addresses.activator) (routes by Host), admin http://\(run.addresses.activatorAdmin), autoscaler http://\(run.addresses.autoscaler)"]
        for service in run.services {
            lines.append("  service \(service.name): http://127.0.0.1:\(service.port)  or  Host: \(service.host)")
            if let transformer = service.transformer {
                lines.append("    transformer \(transformer): Host: \(transformer).thaw.local; it reaches the predictors at \(service.predictorHost ?? "?")")
            }
            for release in service.releases {
                lines.append("    release \(release.release) (\(release.role), \(release.trafficPercent)%): target \(release.target), Host: \(release.host)")
            }
        }
        lines.append("  replica logs: \(run.logDirectory)")
        return lines.joined(separator: "\n")
    }
}

extension ClusterOptions: ProxyFlagDefaults {
    static let port = 8080
    static let portHelp = "The activator's port; it routes by Host header (0 picks a free port)."
    static let drainSeconds = 10.0
    static let drainHelp = "How long requests may take to finish on scale-down and shutdown."
}

/// Runs the services until SIGTERM or SIGINT, then shuts them down in reverse order.
func runGroup(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) async throws {
    let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}

/// A failure that is not about how the command was called: printed as `Error: …`, without the usage text.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
