import Dispatch
import Foundation
import KubernetesClient
import KubernetesTargets
import Logging
import ServiceLifecycle

/// Tells a workload's owner why Thaw does not scale it: one Kubernetes Event (events.k8s.io/v1) on
/// the workload, and one log line, per notice, the first time it is seen. `kubectl describe` shows
/// the Event beside the workload's own.
///
/// The autoscaler runs it; the activator, which reads the same workloads, does not, so each notice
/// is said once per cluster, not once per component.
public struct NoticeRecorder: Service {
    public let cluster: ClusterWatch
    /// The `reportingInstance` of each Event: this pod's name.
    public let instance: String
    let logger: Logger
    /// Whether this replica leads (several autoscalers): only the leader records, so each notice is
    /// one Event. Nil: the only replica.
    let mayWrite: (@Sendable () -> Bool)?

    public static let controller = "thaw.dev/autoscaler"

    public init(cluster: ClusterWatch, instance: String = ProcessInfo.processInfo.hostName, logger: Logger,
                mayWrite: (@Sendable () -> Bool)? = nil) {
        self.cluster = cluster
        self.instance = instance
        self.logger = logger
        self.mayWrite = mayWrite
    }

    /// Records each view's new notices and warnings until shut down.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.record() }
    }

    private func record() async {
        var said: Set<WorkloadNotice> = []
        var warned: Set<String> = []
        for await view in cluster.views() {
            let current = Set(view.notices)
            // A stand-by says nothing: the leader does, and a new leader says what it finds again.
            guard mayWrite?() ?? true else {
                said = []
                continue
            }
            for notice in view.notices where !said.contains(notice) {
                logger.warning("not scaling \(notice.kind) \(notice.namespace)/\(notice.workload): \(notice.message)",
                               metadata: ["reason": "\(notice.reason.rawValue)"])
                let body = Self.event(for: notice, instance: instance, at: Date())
                let path = "/apis/events.k8s.io/v1/namespaces/\(notice.namespace)/events"
                DispatchQueue.global().async { [cluster, logger] in
                    do {
                        _ = try cluster.client.post(path, body)
                    } catch {
                        logger.warning("could not record an Event", metadata: ["workload": "\(notice.namespace)/\(notice.workload)", "error": "\(error)"])
                    }
                }
            }
            // A notice that went away (the annotation was fixed) is said again if it comes back.
            said = current
            for warning in view.warnings where !warned.contains(warning) { logger.warning("\(warning)") }
            warned = Set(view.warnings)
        }
    }

    /// An events.k8s.io/v1 Event about `notice`'s workload.
    static func event(for notice: WorkloadNotice, instance: String, at time: Date) -> [UInt8] {
        var regarding: [String: String] = ["apiVersion": "apps/v1", "kind": notice.kind, "namespace": notice.namespace, "name": notice.workload]
        if let uid = notice.uid { regarding["uid"] = uid }
        let event: [String: Any] = [
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": ["generateName": "\(notice.workload).", "namespace": notice.namespace],
            "eventTime": MicroTime.string(from: time),
            "reportingController": controller, "reportingInstance": String(instance.prefix(128)),
            "action": notice.reason == .invalidPolicy ? "ReadPolicy" : "Skip",
            "reason": notice.reason.rawValue, "type": "Warning",
            // The API server caps a note at 1 kB.
            "note": String(notice.message.prefix(1024)),
            "regarding": regarding,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])) ?? Data())
    }
}
