import ConfigFields
import AutoscalerDaemon
import LocalDriver
import MLService
import RoutingFile
import ScalingPolicy
import ThawVocabulary

/// Everything `thaw up` runs for an MLService file: the scale targets with their commands and
/// policies, the activator's routes, and the ports a person or a transformer uses.
///
/// Every release's predictor and every transformer is its own target, scaled on its own policy.
/// A service's host reaches its transformer if it has one, else the default/canary split; with a
/// transformer, the split lives behind a predictor host the transformer reaches as `PREDICTOR_HOST`.
public struct LocalPlan: Sendable {
    public var targets: [LocalTarget] = []
    public var scaled: [ScaledTarget] = []
    public var routes = RoutingConfig()
    public var hostPorts: [HostPort] = []
    /// How a person reaches each service, and each release's role and share.
    public var services: [LocalCluster.ServiceSummary] = []
    /// Warnings about the file and about settings the plan overrode.
    public var warnings: [String] = []

    /// The annotation naming a model server's readiness path (Thaw's own; not an autoscaling key).
    public static let readinessPathKey = ComponentSpec.readinessPathKey
    /// Knative's key for how long a new replica may take to become ready (a Go duration).
    public static let progressDeadlineKey = "serving.knative.dev/progress-deadline"
    public static let defaultReadinessPath = ComponentSpec.defaultReadinessPath
    public static let domain = "thaw.local"

    /// - Parameter port: hands out a free port for each service (and predictor) listener.
    /// - Parameter pinnedPorts: ports to keep for these hosts (a service's, or a transformer's
    ///   predictor host), so a restarted autoscaler hands out the addresses a running activator
    ///   already listens on.
    public init(file: MLServiceFile, config: AutoscalerConfig = AutoscalerConfig(), timeoutSeconds: Double = TargetConfig.defaultTimeoutSeconds,
                pinnedPorts: [String: Int] = [:], port: () throws -> Int) throws {
        warnings = file.warnings
        for service in file.services {
            let serviceHost = "\(service.name).\(Self.domain)"
            let servicePort = try pinnedPorts[serviceHost] ?? port()
            var addresses = LocalCluster.ServiceSummary(name: service.name, host: serviceHost, port: servicePort, releases: [])
            for release in service.releases {
                let name = "\(service.name)-\(release.name)"
                let host = "\(name).\(Self.domain)"
                let reachable = release.name == service.defaultRelease || release.name == service.canary || release.name == service.mirror
                try add(target: name, hosts: [host], component: release.predictor, config: config, reachable: reachable,
                        timeoutSeconds: timeoutSeconds, describe: "MLService \(service.name), release \(release.name) predictor",
                        origin: .init(service: service.name, release: release.name, model: release.modelName(service: service.name),
                                      component: "predictor"),
                        runtime: release.runtime.flatMap { runtime in file.runtimes[runtime].map { (runtime, $0.annotations) } },
                        extra: { ComponentSpec.replicaParameters(port: $0, predictorHost: nil) })
                let canaryShare = service.canary == nil ? 0 : service.canaryTrafficPercent
                let (role, share) = release.name == service.canary ? ("canary", canaryShare)
                    : release.name == service.defaultRelease ? ("default", 100 - canaryShare) : ("idle", 0)
                addresses.releases.append(.init(release: release.name, target: name, host: host, trafficPercent: share, role: role))
            }
            let split = { (name: String, hosts: [String]) in
                ServiceConfig(name: name, hosts: hosts, defaultTarget: "\(service.name)-\(service.defaultRelease)",
                              canaryTarget: service.canary.map { "\(service.name)-\($0)" },
                              canaryTrafficPercent: Double(service.canaryTrafficPercent),
                              mirrorTarget: service.mirror.map { "\(service.name)-\($0)" }, mirrorPercent: Double(service.mirrorPercent))
            }
            if let transformer = service.transformer {
                let name = "\(service.name)-transformer"
                let predictorHost = "\(service.name)-predictor.\(Self.domain)"
                let predictorPort = try pinnedPorts[predictorHost] ?? port()
                routes.services.append(split("\(service.name)-predictor", [predictorHost]))
                hostPorts.append(.init(port: predictorPort, host: predictorHost))
                try add(target: name, hosts: [serviceHost, "\(name).\(Self.domain)"], component: transformer, config: config, reachable: true,
                        timeoutSeconds: timeoutSeconds, describe: "MLService \(service.name), transformer",
                        origin: .init(service: service.name, release: "transformer", model: service.name, component: "transformer"),
                        extra: { ComponentSpec.replicaParameters(port: $0, predictorHost: "127.0.0.1:\(predictorPort)") })
                addresses.transformer = name
                addresses.predictorHost = predictorHost
                addresses.predictorPort = predictorPort
            } else {
                routes.services.append(split(service.name, [serviceHost]))
            }
            if let mirror = service.mirror, service.releases.contains(where: { $0.name == mirror && $0.predictor.replicaProtocol == .h2c }) {
                warnings.append("MLService \(service.name): release \(mirror) speaks gRPC; only HTTP/1.1 requests are mirrored, so gRPC calls are not copied to it")
            }
            hostPorts.append(.init(port: servicePort, host: serviceHost))
            services.append(addresses)
        }
        try routes.validate(file: "the routes made from the MLService file")
    }

    private mutating func add(target name: String, hosts: [String], component: ComponentSpec, config: AutoscalerConfig,
                              reachable: Bool, timeoutSeconds: Double, describe: String, origin: LocalTarget.Origin,
                              runtime: (name: String, annotations: [String: String])? = nil,
                              extra: @escaping @Sendable (Int) -> [String: String]) throws {
        var annotations = component.annotations
        // MLService's own fields win over the annotations; with neither, min is 1 and max unbounded.
        for (key, field, name) in [(AnnotationKeys.minScale, component.minReplicas, "minReplicas"),
                                   (AnnotationKeys.maxScale, component.maxReplicas, "maxReplicas")] {
            guard let field else { continue }
            if let (spelling, annotated) = key.lookup(in: annotations), annotated != String(field) {
                warnings.append("\(describe): annotation \(spelling): \"\(annotated)\" is overridden by \(name): \(field)")
            }
            for spelling in key.spellings { annotations.removeValue(forKey: spelling) }
            annotations[key.name] = String(field)
        }
        let concurrency = component.containerConcurrency ?? 0
        let policy: TargetPolicy
        do {
            policy = try TargetPolicy(annotations: annotations, config: config, containerConcurrency: concurrency, reachable: reachable)
        } catch let error as PolicyError {
            // An annotation the release took from its runtime is fixed in the runtime: say so, instead
            // of blaming the first release that uses it.
            if let runtime, let inherited = error.issues.first(where: { issue in
                runtime.annotations[issue.key] != nil && runtime.annotations[issue.key] == issue.value
            }) {
                throw Self.located("MLServiceRuntime \(runtime.name) (used by \(describe)): annotation \(inherited.key) comes from the runtime's template; fix it there. \(error)",
                                   at: component.annotationSources[inherited.key])
            }
            throw Self.located("\(describe): \(error)", at: error.issues.lazy.compactMap { component.annotationSources[$0.key] }.first)
        }
        guard let replicaProtocol = component.replicaProtocol else {
            throw Self.located("\(describe): annotation \(ComponentSpec.protocolKey) must be \(ReplicaProtocol.accepted), got \"\(annotations[ComponentSpec.protocolKey] ?? "")\"",
                               at: component.annotationSources[ComponentSpec.protocolKey])
        }
        if replicaProtocol == .h2c, component.logger != nil {
            warnings.append("\(describe): its logger has no effect yet: payloads of gRPC (HTTP/2) calls are not logged, only HTTP/1.1 requests'")
        }
        let readinessPath = component.effectiveReadinessPath
        guard readinessPath.hasPrefix("/") else {
            throw Self.located("\(describe): annotation \(Self.readinessPathKey) must be a path starting with /, got \"\(readinessPath)\"",
                               at: component.annotationSources[Self.readinessPathKey])
        }
        var progressDeadline = LocalTarget.defaultProgressDeadline
        if let text = annotations[Self.progressDeadlineKey] {
            guard let deadline = GoDuration.parse(text), deadline >= .seconds(1), deadline <= .seconds(86_400) else {
                throw Self.located("\(describe): annotation \(Self.progressDeadlineKey) must be a duration from 1s to 24h (e.g. \"10m\"), got \"\(text)\"",
                                   at: component.annotationSources[Self.progressDeadlineKey])
            }
            progressDeadline = deadline
        }
        let process = component.process
        targets.append(LocalTarget(name: name, readinessPath: readinessPath, containerConcurrency: concurrency,
                                   progressDeadline: progressDeadline, readinessTiming: component.readinessTiming,
                                   protocol: replicaProtocol,
                                   logger: component.logger.map { LocalTarget.PayloadLogger(url: $0.url, mode: $0.mode, origin: origin) }) { port in
            try process.render(extra: extra(port))
        })
        scaled.append(ScaledTarget(name: name, policy: policy))
        routes.targets.append(TargetConfig(name: name, hosts: hosts, containerConcurrency: concurrency, readinessPath: readinessPath,
                                           timeoutSeconds: timeoutSeconds, protocol: replicaProtocol))
    }
}

extension LocalPlan {
    /// An error at the line the offending annotation is written on, when that is known.
    static func located(_ message: String, at source: SourceLine?) -> any Error {
        source.map { $0.error(message) } ?? LocalPlanError(message)
    }
}

public struct LocalPlanError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
