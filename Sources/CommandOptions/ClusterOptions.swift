import ArgumentParser
import Foundation
import KubernetesAccess
import KubernetesClient
import KubernetesDriver
import Logging

/// The flags that put thaw-autoscaler and thaw-activator on a Kubernetes cluster.
public struct ClusterOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Run against the cluster of this kubeconfig's current context. In a pod, leave it out: the pod's service account is used.", valueName: "PATH"))
    public var kubeconfig: String?

    @Option(name: .long, help: "Only this namespace's workloads (default: every namespace the credentials may list).")
    public var namespace: String?

    @Option(name: .customLong("cluster-domain"), help: "The cluster's DNS domain, in the host names routed (NAME.NAMESPACE.svc.DOMAIN).")
    public var clusterDomain = "cluster.local"

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

    /// The cluster, watched as Thaw reads it, with the credentials these flags or the pod give.
    public func watch(logger: Logger) throws -> ClusterWatch {
        let access: ClusterAccess
        do {
            access = try ClusterAccess.resolve(kubeconfig: kubeconfig, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        logger.info("on a Kubernetes cluster", metadata: ["server": "\(access.server)", "credentials": "\(access.origin)",
                                                          "namespace": "\(namespace ?? "(all)")"])
        return ClusterWatch(client: KubernetesClient(access: access), namespace: namespace, clusterDomain: clusterDomain, logger: logger)
    }
}
