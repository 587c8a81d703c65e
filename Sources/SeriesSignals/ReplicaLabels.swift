/// Which replica (pod) a series belongs to, read from its labels.
public struct ReplicaRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var pod: String

    public init(namespace: String, pod: String) {
        self.namespace = namespace
        self.pod = pod
    }

    public var description: String { "\(namespace)/\(pod)" }
}

/// The label schemes GPU metrics arrive with, tried in order.
///
/// dcgm-exporter labels a GPU with the pod using it. Prometheus, scraping with `honor_labels: false`
/// (the Helm chart's default), renames those to `exported_pod`/`exported_namespace` and sets
/// `pod`/`namespace` to the exporter's own pod, so the exported pair must win when present.
/// `pod_name`/`pod_namespace` come from the exporter's old-namespace mode. A GPU no pod uses has none
/// of the workload labels and belongs to no replica.
public enum ReplicaLabels {
    public static let schemes: [(pod: String, namespace: String)] = [
        ("exported_pod", "exported_namespace"),
        ("pod", "namespace"),
        ("pod_name", "pod_namespace"),
    ]

    /// The replica a series belongs to; nil when no scheme names one. `exporterPods` are the pods of
    /// the exporter itself (a `pod` label naming one of them is the scrape target, not a workload).
    public static func replica(of labels: [String: String], exporterPods: Set<String> = []) -> ReplicaRef? {
        for scheme in schemes {
            guard let pod = labels[scheme.pod], !pod.isEmpty else { continue }
            if scheme.pod == "pod", labels["exported_pod"] == nil, exporterPods.contains(pod) { return nil }
            return ReplicaRef(namespace: labels[scheme.namespace] ?? "", pod: pod)
        }
        return nil
    }
}
