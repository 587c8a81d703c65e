import ArgumentParser
import Foundation
import KubernetesAccess
import KubernetesClient
import KubernetesDriver
import KubernetesTargets
import ScalingPolicy
import Logging

/// The flags that put thaw-autoscaler and thaw-activator on a Kubernetes cluster.
public struct ClusterOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Run against the cluster of this kubeconfig's current context. In a pod, leave it out: the pod's service account is used.", valueName: "PATH"))
    public var kubeconfig: String?

    @Option(name: .long, help: "Only this namespace's workloads (default: every namespace the credentials may list).")
    public var namespace: String?

    @Option(name: .customLong("cluster-domain"), help: "The cluster's DNS domain, in the host names routed (NAME.NAMESPACE.svc.DOMAIN).")
    public var clusterDomain = "cluster.local"

    @Option(name: .customLong("config-dir"), help: ArgumentHelp("The cluster defaults (Knative's config-autoscaler keys), a ConfigMap mounted as a directory; read again when it changes. The autoscaler and the activator read the same one, so they agree on which workloads are Thaw's.", valueName: "DIR"))
    public var configDirectory: String?

    public init() {}

    /// Whether to run on a cluster: `--kubeconfig` was given, or this runs in a pod and no local
    /// file was given instead.
    public func selected(localFile: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        kubeconfig != nil || (localFile == nil && environment["KUBERNETES_SERVICE_HOST"] != nil)
    }

    public func validate() throws {
        if let namespace, namespace.isEmpty || namespace.count > 63 || !namespace.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) {
            throw ValidationError("--namespace must be a namespace name (lowercase letters, digits and -, at most 63), got \"\(namespace)\"")
        }
    }

    /// The cluster, watched with the defaults of `--config-dir` (and the service that reads them again
    /// when they change, to run beside the watch).
    public func watchWithDefaults(logger: Logger) throws -> (ClusterWatch, ClusterDefaults?) {
        guard let configDirectory else { return (try watch(logger: logger), nil) }
        let config: AutoscalerConfig
        do {
            config = try ClusterDefaults.load(directory: configDirectory)
        } catch {
            throw ValidationError("--config-dir \(error)")
        }
        let watch = try watch(logger: logger, config: config)
        return (watch, ClusterDefaults(directory: configDirectory, cluster: watch, logger: logger))
    }

    /// The cluster, watched as Thaw reads it, with the credentials these flags or the pod give.
    public func watch(logger: Logger, config: AutoscalerConfig = AutoscalerConfig()) throws -> ClusterWatch {
        let access: ClusterAccess
        do {
            access = try ClusterAccess.resolve(kubeconfig: kubeconfig, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        logger.info("on a Kubernetes cluster", metadata: ["server": "\(access.server)", "credentials": "\(access.origin)",
                                                          "namespace": "\(namespace ?? "(all)")"])
        return ClusterWatch(client: KubernetesClient(access: access), namespace: namespace, config: config, clusterDomain: clusterDomain,
                            logger: logger)
    }
}

/// The flags for running several autoscaler replicas, one leading through a Lease.
public struct LeaderElectionOptions: ParsableArguments {
    @Flag(name: .customLong("leader-elect"), help: "Run as one of several replicas: only the one holding the Lease decides and writes; the others stand by (their /readyz answers 503).")
    public var enabled = false

    @Option(name: .customLong("lease-name"), help: "The coordination.k8s.io/v1 Lease the replicas share.")
    public var name = "thaw-autoscaler"

    @Option(name: .customLong("lease-namespace"), help: "Where the Lease lives (default: $POD_NAMESPACE, else thaw-system).")
    public var namespace: String?

    @Option(name: .customLong("identity"), help: "This replica's name in the Lease (default: $POD_NAME, else the host name and process id).")
    public var identity: String?

    @Option(name: .customLong("lease-duration"), help: "Seconds a stand-by waits, after the Lease was last renewed, before taking it over.")
    public var leaseDuration = 15.0

    @Option(name: .customLong("renew-deadline"), help: "Seconds the leader keeps leading without a successful renew; then it stops writing.")
    public var renewDeadline = 10.0

    @Option(name: .customLong("retry-period"), help: "Seconds between two tries to renew or acquire the Lease.")
    public var retryPeriod = 2.0

    public init() {}

    public var timing: LeaseElection.Timing {
        LeaseElection.Timing(leaseDuration: leaseDuration, renewDeadline: renewDeadline, retryPeriod: retryPeriod)
    }

    public func validate() throws {
        if let problem = timing.problem {
            throw ValidationError("--lease-duration \(leaseDuration), --renew-deadline \(renewDeadline), --retry-period \(retryPeriod): \(problem) (client-go's usual values are 15, 10 and 2)")
        }
    }

    /// The elector for this replica, when `--leader-elect` is given.
    public func elector(client: KubernetesClient, logger: Logger,
                        environment: [String: String] = ProcessInfo.processInfo.environment) -> LeaderElector? {
        guard enabled else { return nil }
        let identity = self.identity ?? DownwardAPI.value("POD_NAME", in: environment)
            ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let namespace = self.namespace ?? DownwardAPI.value("POD_NAMESPACE", in: environment) ?? "thaw-system"
        return LeaderElector(client: client, namespace: namespace, name: name, identity: identity, timing: timing, logger: logger)
    }
}
