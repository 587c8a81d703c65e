import Autoscaling
import KubernetesTargets
import ScalingPolicy
import Testing

/// Which workloads are Thaw's, what they are, and why a wrong one is refused.
@Suite struct WorkloadTargetTests {
    static func workload(kind: String = "Deployment", labels: String = "{}", templateAnnotations: String, replicas: String = "\"replicas\": 2,",
                         probe: String = "") -> [UInt8] {
        Array("""
            {"apiVersion": "apps/v1", "kind": "\(kind)",
             "metadata": {"name": "digits-v1", "namespace": "ml", "labels": \(labels), "uid": "u1", "resourceVersion": "7"},
             "spec": {\(replicas) "selector": {"matchLabels": {"app": "digits"}},
                      "template": {"metadata": {"labels": {"app": "digits"}, "annotations": \(templateAnnotations)},
                                   "spec": {"containers": [{"name": "model", "image": "digits:1" \(probe)}]}}},
             "status": {"replicas": 2, "readyReplicas": 1}}
            """.utf8)
    }

    @Test func theClassOnThePodTemplateOptsIn() throws {
        let json = Self.workload(
            labels: #"{"serving.thaw.dev/service": "digits", "serving.thaw.dev/release": "v1", "serving.thaw.dev/component": "predictor"}"#,
            templateAnnotations: #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "autoscaling.knative.dev/metric": "rps", "autoscaling.knative.dev/target": "25", "autoscaling.knative.dev/min-scale": "0", "serving.thaw.dev/container-concurrency": "4"}"#,
            probe: #", "readinessProbe": {"httpGet": {"path": "/v2/models/digits/ready", "port": 8080}}"#)
        guard case .managed(let target) = WorkloadTarget.read(json, kind: "Deployment") else { Issue.record("not managed: \(WorkloadTarget.read(json, kind: "Deployment"))"); return }
        #expect(target.name == "ml/digits-v1")
        #expect(target.kind == "Deployment")
        #expect((target.service, target.release, target.component) == ("digits", "v1", .predictor))
        #expect(target.policy.decider.metric == .rps)
        #expect(target.policy.decider.totalValue == 25)
        #expect(target.policy.decider.targetValue == 17.5, "25 at the default 70 % utilization")
        #expect(target.policy.replicas.minScale == 0)
        #expect(target.containerConcurrency == 4)
        #expect(target.readinessPath == "/v2/models/digits/ready", "the container's own readiness probe")
        #expect(target.replicas == 2)
    }

    @Test func aGRPCModelServerIsProbedByTheHealthProtocolUnlessItSaysOtherwise() throws {
        let grpc = Self.workload(templateAnnotations: #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.thaw.dev/protocol": "grpc"}"#)
        guard case .managed(let target) = WorkloadTarget.read(grpc, kind: "Deployment") else { Issue.record("not managed"); return }
        #expect(target.protocol == .h2c)
        #expect(target.readinessPath == "/grpc.health.v1.Health/Check")
        let own = Self.workload(templateAnnotations: #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.thaw.dev/protocol": "h2c", "serving.thaw.dev/readiness-path": "/inference.GRPCInferenceService/ServerReady"}"#)
        guard case .managed(let owned) = WorkloadTarget.read(own, kind: "Deployment") else { Issue.record("not managed"); return }
        #expect(owned.readinessPath == "/inference.GRPCInferenceService/ServerReady")
        let bad = Self.workload(templateAnnotations: #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.thaw.dev/protocol": "quic"}"#)
        guard case .invalid(_, _, let reason) = WorkloadTarget.read(bad, kind: "Deployment") else { Issue.record("not refused"); return }
        #expect(reason.contains("serving.thaw.dev/protocol") && reason.contains("quic"))
    }

    @Test func defaultsComeFromTheWorkload() throws {
        // As a list item: no kind of its own, so the collection's (statefulsets) says what it is.
        let json = Array(String(decoding: Self.workload(kind: "StatefulSet", templateAnnotations: #"{"autoscaling.knative.dev/class": "kpa.thaw.dev"}"#, replicas: ""), as: UTF8.self)
            .replacingOccurrences(of: #""apiVersion": "apps/v1", "kind": "StatefulSet","#, with: "").utf8)
        guard case .managed(let target) = WorkloadTarget.read(json, kind: "StatefulSet") else { Issue.record("not managed"); return }
        #expect(target.kind == "StatefulSet")
        #expect((target.service, target.release, target.component) == ("digits-v1", "digits-v1", .predictor))
        #expect(target.readinessPath == WorkloadTarget.defaultReadinessPath)
        #expect(target.replicas == 1, "Kubernetes' default when spec.replicas is unset")
        #expect(target.policy.decider.metric == .concurrency)
    }

    @Test(arguments: [
        #"{}"#,
        #"{"autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev"}"#,  // Knative's own: Knative scales it
        #"{"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}"#,
    ])
    func otherWorkloadsAreLeftAlone(annotations: String) {
        guard case .notManaged = WorkloadTarget.read(Self.workload(templateAnnotations: annotations), kind: "Deployment") else {
            Issue.record("managed: \(annotations)")
            return
        }
    }

    @Test(arguments: [
        (#"{}"#, #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "autoscaling.knative.dev/window": "3s"}"#,
         "autoscaling.knative.dev/window: \"3s\" is out of range"),
        (#"{"serving.thaw.dev/component": "explainer"}"#, #"{"autoscaling.knative.dev/class": "kpa.thaw.dev"}"#,
         "label serving.thaw.dev/component: \"explainer\" must be predictor or transformer"),
        (#"{}"#, #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.thaw.dev/container-concurrency": "-1"}"#,
         "serving.thaw.dev/container-concurrency: \"-1\""),
        (#"{}"#, #"{"autoscaling.knative.dev/class": "kpa.thaw.dev", "serving.thaw.dev/readiness-path": "ready"}"#,
         "must be a path starting with /"),
    ])
    func aWrongPolicyIsRefusedWithTheReason(labels: String, annotations: String, reason: String) {
        guard case .invalid(let namespace, let workload, let message) = WorkloadTarget.read(Self.workload(labels: labels, templateAnnotations: annotations), kind: "Deployment") else {
            Issue.record("not refused: \(annotations)")
            return
        }
        #expect((namespace, workload) == ("ml", "digits-v1"))
        #expect(message.contains(reason), "\(message)")
    }
}
