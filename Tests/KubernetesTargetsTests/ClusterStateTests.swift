import Foundation
import KubernetesTargets
import ScaleTargets
import ScalingPolicy
import Testing
import ThawVocabulary

/// From a cluster's objects to targets, endpoints, failures and routes, without a cluster.
@Suite struct ClusterStateTests {
    static func decode<T: Decodable>(_ json: String, as: T.Type = T.self) -> T {
        try! JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    static func deployment(_ name: String, namespace: String = "ml", service: String = "digits", release: String? = nil,
                           component: String = "predictor", annotations: String = "", replicas: Int = 1, conditions: String = "[]") -> WorkloadObject {
        decode("""
            {"kind": "Deployment", "apiVersion": "apps/v1",
             "metadata": {"name": "\(name)", "namespace": "\(namespace)", "uid": "uid-\(name)",
                          "labels": {"serving.thaw.dev/service": "\(service)", "serving.thaw.dev/release": "\(release ?? name)",
                                     "serving.thaw.dev/component": "\(component)"}},
             "spec": {"replicas": \(replicas), "selector": {"matchLabels": {"app": "\(name)"}},
                      "template": {"metadata": {"labels": {"app": "\(name)"},
                                                "annotations": {"autoscaling.knative.dev/class": "kpa.thaw.dev" \(annotations)}},
                                   "spec": {"containers": [{"name": "model", "image": "m:1"}]}}},
             "status": {"conditions": \(conditions)}}
            """)
    }

    static func pod(_ name: String, app: String, namespace: String = "ml", ip: String? = nil, phase: String = "Running", ready: Bool = false,
                    waiting: String? = nil, unschedulable: Bool = false, startTime: String? = nil) -> PodObject {
        let conditions = unschedulable
            ? #"[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]"#
            : #"[{"type": "Ready", "status": "\#(ready ? "True" : "False")"}]"#
        let containers = waiting.map { #"[{"name": "model", "state": {"waiting": {"reason": "\#($0)", "message": "back-off 5m0s"}}}]"# } ?? "[]"
        return decode("""
            {"metadata": {"name": "\(name)", "namespace": "\(namespace)", "labels": {"app": "\(app)", "pod-template-hash": "abc"}},
             "status": {"phase": "\(phase)", \(ip.map { "\"podIP\": \"\($0)\"," } ?? "") "conditions": \(conditions),
                        \(startTime.map { "\"startTime\": \"\($0)\"," } ?? "")
                        "containerStatuses": \(containers)}}
            """)
    }

    @Test func podsGiveEachTargetItsEndpointsAndReadyOnes() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1", replicas: 3)], kind: .deployment)
        cluster.replacePods([
            "ml/a": Self.pod("a", app: "digits-v1", ip: "10.0.0.1", ready: true),
            "ml/b": Self.pod("b", app: "digits-v1", ip: "10.0.0.2"),
            "ml/c": Self.pod("c", app: "digits-v1", phase: "Pending"),
            "ml/other": Self.pod("other", app: "something-else", ip: "10.0.0.9", ready: true),
            "prod/a": Self.pod("a", app: "digits-v1", namespace: "prod", ip: "10.0.1.1", ready: true),
        ])
        let view = cluster.view()
        #expect(view.targets.map(\.name) == ["ml/digits-v1"])
        #expect(view.states == [TargetState(name: "ml/digits-v1", endpoints: [.init(host: "10.0.0.1", port: 8012), .init(host: "10.0.0.2", port: 8012)],
                                            ready: [.init(host: "10.0.0.1", port: 8012)], declared: 3)],
                "the sidecar's port on each running pod's IP; a pending pod has none, and other namespaces' pods are not its")
    }

    @Test func aViewAfterPodChangesIsTheViewAFreshStateBuilds() {
        let workloads = Dictionary(uniqueKeysWithValues: (0..<20).map { ("ml/w\($0)", Self.deployment("w\($0)", service: "s\($0 % 5)", release: "r\($0)")) })
        var pods: [String: PodObject] = [:]
        for index in 0..<40 { pods["ml/p\(index)"] = Self.pod("p\(index)", app: "w\(index % 20)", ip: "10.0.0.\(index)", ready: index % 3 == 0) }
        var cluster = ClusterState()
        cluster.replaceWorkloads(workloads, kind: .deployment)
        cluster.replacePods(pods)
        _ = cluster.view()
        // Pods turn ready, crash, move to another workload (new labels) and go away.
        let changes: [(String, PodObject?)] = [
            ("ml/p1", Self.pod("p1", app: "w1", ip: "10.0.0.1", ready: true)),
            ("ml/p2", Self.pod("p2", app: "w2", ip: "10.0.0.2", waiting: "CrashLoopBackOff")),
            ("ml/p4", Self.pod("p4", app: "w7", ip: "10.0.0.4", ready: true)),
            ("ml/p5", nil),
            ("ml/new", Self.pod("new", app: "w19", ip: "10.0.1.1", ready: true)),
        ]
        for (key, pod) in changes {
            if let pod { cluster.put(pod: pod, key: key); pods[key] = pod } else { cluster.removePod(key: key); pods[key] = nil }
        }
        let incremental = cluster.view()
        var fresh = ClusterState()
        fresh.replaceWorkloads(workloads, kind: .deployment)
        fresh.replacePods(pods)
        let rebuilt = fresh.view()
        #expect(incremental.states == rebuilt.states)
        #expect(incremental.routes == rebuilt.routes)
        #expect(incremental.states.first { $0.name == "ml/w7" }?.ready.count == 2, "p4 moved to w7, beside p7")
        #expect(incremental.states.first { $0.name == "ml/w4" }?.endpoints.map(\.host) == ["10.0.0.24"], "and left w4")
    }

    @Test func aCrashLoopFailsTheTargetOnlyWhileNoReplicaIsReady() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1")], kind: .deployment)
        cluster.replacePods(["ml/a": Self.pod("a", app: "digits-v1", ip: "10.0.0.1", waiting: "CrashLoopBackOff")])
        #expect(cluster.view().states.first?.failure == "pod a: container model: CrashLoopBackOff: back-off 5m0s")
        #expect(cluster.view().routes.targets.first?.failure == "pod a: container model: CrashLoopBackOff: back-off 5m0s",
                "the activator fails waiting requests at once with the reason")
        cluster.put(pod: Self.pod("b", app: "digits-v1", ip: "10.0.0.2", ready: true), key: "ml/b")
        #expect(cluster.view().states.first?.failure == nil, "a ready replica serves; the crashing one is not a reason to refuse")
    }

    @Test func imagePullsAndConfigErrorsFailButUnschedulableWaits() {
        for reason in ["ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"] {
            var cluster = ClusterState()
            cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1")], kind: .deployment)
            cluster.replacePods(["ml/a": Self.pod("a", app: "digits-v1", phase: "Pending", waiting: reason)])
            #expect(cluster.view().states.first?.failure?.contains(reason) == true, "\(reason)")
            #expect(cluster.view().states.first?.waiting == nil)
        }
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1")], kind: .deployment)
        cluster.replacePods(["ml/a": Self.pod("a", app: "digits-v1", phase: "Pending", unschedulable: true)])
        let state = cluster.view().states.first
        #expect(state?.failure == nil, "no node has room yet: requests keep waiting")
        #expect(state?.waiting == "pod a: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    }

    @Test func aRolloutPastItsDeadlineFails() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1", conditions: #"""
            [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"digits-v1-abc\" has timed out progressing."}]
            """#)], kind: .deployment)
        #expect(cluster.view().states.first?.failure == #"Deployment digits-v1: ProgressDeadlineExceeded: ReplicaSet "digits-v1-abc" has timed out progressing."#)
    }

    /// Knative's `serving.knative.dev/progress-deadline` on a cluster (issue 14): a started pod not
    /// ready within it fails the target, with no object changing, so waiting requests get 503 with
    /// the reason instead of waiting out the Deployment's own 10 minutes.
    @Test func aPodNotReadyPastTheProgressDeadlineFailsItsTarget() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1", annotations: #", "serving.knative.dev/progress-deadline": "30s""#)],
                                 kind: .deployment)
        let started = ClusterState.unixSeconds("2026-12-04T16:00:00Z")!
        cluster.replacePods(["ml/a": Self.pod("digits-v1-a", app: "digits-v1", ip: "10.0.0.1", startTime: "2026-12-04T16:00:00Z")])
        #expect(cluster.view(at: started + 29).states.first?.failure == nil)
        #expect(cluster.nextDeadline == started + 30, "the driver looks again when it falls due")
        let failure = cluster.view(at: started + 30).states.first?.failure
        #expect(failure == "pod digits-v1-a did not become ready within 30s (serving.knative.dev/progress-deadline)")
        #expect(cluster.view(at: started + 30).routes.targets.first?.failure == failure, "the activator answers waiting requests with it")
        #expect(cluster.nextDeadline == nil)
        // The pod becomes ready: the target is fine again.
        cluster.put(pod: Self.pod("digits-v1-a", app: "digits-v1", ip: "10.0.0.1", ready: true, startTime: "2026-12-04T16:00:00Z"), key: "ml/a")
        #expect(cluster.view(at: started + 40).states.first?.failure == nil)
    }

    /// Review finding: pods being deleted, pods that ended, and a pod that was ready until a moment
    /// ago must not fail a target at its progress deadline.
    @Test func onlyPodsThatStayedNotReadyPastTheDeadlineCount() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1", annotations: #", "serving.knative.dev/progress-deadline": "30s""#)],
                                 kind: .deployment)
        let started = ClusterState.unixSeconds("2026-12-04T10:00:00Z")!
        func pod(_ name: String, phase: String, deleting: Bool = false, readyChanged: String? = nil) -> PodObject {
            Self.decode("""
                {"metadata": {"name": "\(name)", "namespace": "ml", "labels": {"app": "digits-v1"}\(deleting ? #", "deletionTimestamp": "2026-12-04T16:00:00Z""# : "")},
                 "status": {"phase": "\(phase)", "podIP": "10.0.0.9", "startTime": "2026-12-04T10:00:00Z",
                            "conditions": [{"type": "Ready", "status": "False"\(readyChanged.map { #", "lastTransitionTime": "\#($0)""# } ?? "")}]}}
                """)
        }
        let evicted = pod("digits-v1-old", phase: "Failed")
        let leaving = pod("digits-v1-leaving", phase: "Running", deleting: true)
        let blip = pod("digits-v1-blip", phase: "Running", readyChanged: "2026-12-04T16:00:00Z")
        cluster.replacePods(["ml/old": evicted, "ml/leaving": leaving, "ml/blip": blip])
        let sixHoursOn = started + 6 * 3600
        #expect(cluster.view(at: sixHoursOn + 10).states.first?.failure == nil, "the blip is 10 s old; the others do not count")
        #expect(cluster.view(at: sixHoursOn + 30).states.first?.failure?.hasPrefix("pod digits-v1-blip did not become ready within 30s") == true)
    }

    @Test func withoutTheAnnotationTheDeploymentsOwnDeadlineDecides() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/digits-v1": Self.deployment("digits-v1")], kind: .deployment)
        cluster.replacePods(["ml/a": Self.pod("digits-v1-a", app: "digits-v1", ip: "10.0.0.1", startTime: "2026-12-04T16:00:00Z")])
        #expect(cluster.view(at: 4_000_000_000).states.first?.failure == nil)
        #expect(cluster.nextDeadline == nil)
    }

    @Test func aBadProgressDeadlineIsANotice() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/d": Self.deployment("d", annotations: #", "serving.knative.dev/progress-deadline": "soon""#)], kind: .deployment)
        #expect(cluster.view().notices.first?.message.contains("serving.knative.dev/progress-deadline") == true)
    }

    @Test func apiServerTimesReadAsUnixSeconds() {
        #expect(ClusterState.unixSeconds("1970-01-01T00:00:00Z") == 0)
        #expect(ClusterState.unixSeconds("2000-03-01T12:30:15Z") == 951_913_815)
        #expect(ClusterState.unixSeconds("2026-12-04T16:00:00Z") == 1_796_400_000)
        #expect(ClusterState.unixSeconds("2026-12-04 16:00:00") == nil)
        #expect(ClusterState.unixSeconds("2026-13-04T16:00:00Z") == nil)
    }

    @Test func invalidAnnotationsAndOtherScalersBecomeNoticesNotTargets() {
        var cluster = ClusterState()
        cluster.replaceWorkloads([
            "ml/bad": Self.deployment("bad", annotations: #", "autoscaling.knative.dev/min-scale": "-2""#),
            "ml/hpa": Self.deployment("hpa", service: "other"),
            "ml/keda": Self.deployment("keda", service: "third"),
            "ml/fine": Self.deployment("fine", service: "fine"),
        ], kind: .deployment)
        cluster.replaceScalers(["ml/h": Self.decode(#"{"metadata": {"name": "h", "namespace": "ml"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "hpa"}}}"#)],
                               collection: "horizontalpodautoscalers")
        cluster.replaceScalers(["ml/k": Self.decode(#"{"metadata": {"name": "k", "namespace": "ml"}, "spec": {"scaleTargetRef": {"name": "keda"}}}"#)],
                               collection: "scaledobjects")
        let view = cluster.view()
        #expect(view.targets.map(\.name) == ["ml/fine"])
        let notices = Dictionary(uniqueKeysWithValues: view.notices.map { ($0.workload, $0) })
        #expect(notices["bad"]?.reason == .invalidPolicy)
        #expect(notices["bad"]?.message.contains("min-scale") == true, "\(notices["bad"]?.message ?? "")")
        #expect(notices["bad"]?.uid == "uid-bad", "an Event names the object by uid too")
        #expect(notices["hpa"]?.reason == .scaledElsewhere)
        #expect(notices["hpa"]?.message.hasPrefix("HorizontalPodAutoscaler ml/h scales this Deployment") == true)
        #expect(notices["keda"]?.message.hasPrefix("ScaledObject ml/k scales this Deployment") == true, "KEDA's kind defaults to Deployment")
        cluster.removeWorkload(key: "ml/fine", kind: .deployment)
        #expect(cluster.view().targets.isEmpty, "a deleted workload is forgotten")
    }

    @Test func aServiceSplitsBetweenItsReleasesAsItsServiceObjectSays() throws {
        var cluster = ClusterState()
        cluster.replaceWorkloads([
            "ml/digits-v1": Self.deployment("digits-v1", release: "v1"),
            "ml/digits-v2": Self.deployment("digits-v2", release: "v2"),
        ], kind: .deployment)
        cluster.replaceServices(["ml/digits": Self.decode(#"""
            {"metadata": {"name": "digits", "namespace": "ml", "annotations": {
              "serving.thaw.dev/default-release": "v1", "serving.thaw.dev/canary-release": "v2", "serving.thaw.dev/canary-traffic-percent": "20"}}}
            """#)])
        let view = cluster.view()
        #expect(view.routes.services == [ServiceConfig(name: "ml/digits", hosts: ["digits.ml.svc.cluster.local", "digits.ml.svc", "digits.ml"],
                                                       defaultTarget: "ml/digits-v1", canaryTarget: "ml/digits-v2", canaryTrafficPercent: 20)])
        #expect(view.routes.targets.map(\.hosts) == [["digits-v1.ml.svc.cluster.local", "digits-v1.ml.svc", "digits-v1.ml"],
                                                     ["digits-v2.ml.svc.cluster.local", "digits-v2.ml.svc", "digits-v2.ml"]])
        #expect(view.warnings.isEmpty, "\(view.warnings)")
        // The routing table takes it: no host twice, every split names a target.
        #expect(RoutingTableCheck.hostsAreUnique(view.routes))
    }

    @Test func aServiceObjectCanMirrorAShareOfItsRequestsToAnotherRelease() throws {
        var cluster = ClusterState()
        cluster.replaceWorkloads([
            "ml/digits-v1": Self.deployment("digits-v1", release: "v1"),
            "ml/digits-v2": Self.deployment("digits-v2", release: "v2"),
        ], kind: .deployment)
        cluster.replaceServices(["ml/digits": Self.decode(#"""
            {"metadata": {"name": "digits", "namespace": "ml", "annotations": {
              "serving.thaw.dev/default-release": "v1", "serving.thaw.dev/mirror-release": "v2", "serving.thaw.dev/mirror-percent": "25"}}}
            """#)])
        let service = try #require(cluster.view().routes.services.first)
        #expect(service.mirrorTarget == "ml/digits-v2" && service.mirrorPercent == 25)
        #expect(service.canaryTarget == nil)
        cluster.replaceServices(["ml/digits": Self.decode(#"""
            {"metadata": {"name": "digits", "namespace": "ml", "annotations": {
              "serving.thaw.dev/default-release": "v1", "serving.thaw.dev/mirror-release": "v1", "serving.thaw.dev/mirror-percent": "25"}}}
            """#)])
        let view = cluster.view()
        #expect(view.routes.services.first?.mirrorTarget == nil, "the default release cannot be its own mirror")
        #expect(view.warnings.contains { $0.contains("mirror-release") }, "\(view.warnings)")
    }

    @Test func aTransformerTakesTheServiceNamesAndReachesThePredictorsThroughTheSplit() {
        var cluster = ClusterState()
        cluster.replaceWorkloads([
            "ml/digits": Self.deployment("digits", release: "v1"),
            "ml/digits-transformer": Self.deployment("digits-transformer", release: "v1", component: "transformer"),
        ], kind: .deployment)
        let routes = cluster.view().routes
        #expect(routes.services.map(\.name) == ["ml/digits-predictor"])
        #expect(routes.services.first?.hosts.first == "digits-predictor.ml.svc.cluster.local")
        #expect(routes.services.first?.defaultTarget == "ml/digits")
        let hosts = Dictionary(uniqueKeysWithValues: routes.targets.map { ($0.name, $0.hosts) })
        #expect(hosts["ml/digits-transformer"]?.prefix(3) == ["digits.ml.svc.cluster.local", "digits.ml.svc", "digits.ml"])
        #expect(hosts["ml/digits"] == [], "the predictor named as its service leaves the service's names to the transformer")
        #expect(RoutingTableCheck.hostsAreUnique(routes))
    }

    @Test func aDefaultReleaseThatIsNoReleaseFallsBackInsteadOfTakingTheServiceOffline() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/a": Self.deployment("a", release: "v1"), "ml/b": Self.deployment("b", release: "v2")], kind: .deployment)
        cluster.replaceServices(["ml/digits": Self.decode(#"{"metadata": {"name": "digits", "namespace": "ml", "annotations": {"serving.thaw.dev/default-release": "v3"}}}"#)])
        let view = cluster.view()
        #expect(view.routes.services.first?.defaultTarget == "ml/a", "the service's names still route")
        #expect(view.warnings.first?.contains(#""v3" is no release of it (releases: v1, v2); v1 is the default"#) == true, "\(view.warnings)")
    }

    @Test func aStatefulSetNamedAsAManagedDeploymentIsRefusedWithANotice() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/a": Self.deployment("a")], kind: .deployment)
        cluster.replaceWorkloads(["ml/a": Self.deployment("a")], kind: .statefulSet)
        let view = cluster.view()
        #expect(view.targets.map(\.kind) == ["Deployment"])
        #expect(view.notices.map(\.kind) == ["StatefulSet"])
        #expect(view.notices.first?.message.contains("rename one") == true)
    }

    @Test func aWorkloadStatusUpdateKeepsThePodChangesCheap() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/a": Self.deployment("a")], kind: .deployment)
        cluster.replacePods(["ml/p": Self.pod("p", app: "a", ip: "10.0.0.1")])
        _ = cluster.view()
        // The same Deployment again (its status moved): nothing Thaw reads changed.
        cluster.put(workload: Self.deployment("a"), key: "ml/a", kind: .deployment)
        cluster.put(pod: Self.pod("p", app: "a", ip: "10.0.0.1", ready: true), key: "ml/p")
        #expect(cluster.view().states.first?.ready.count == 1)
        cluster.put(workload: Self.deployment("a", replicas: 4), key: "ml/a", kind: .deployment)
        #expect(cluster.view().states.first?.declared == 4, "a change Thaw reads rebuilds the view")
    }

    @Test func withoutAServiceObjectTheOnlyOrTheDefaultReleaseTakesTheTraffic() {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/a": Self.deployment("a", release: "x"), "ml/b": Self.deployment("b", release: "default")], kind: .deployment)
        #expect(cluster.view().routes.services.first?.defaultTarget == "ml/b")
        cluster.replaceWorkloads(["ml/a": Self.deployment("a", release: "x"), "ml/b": Self.deployment("b", release: "y")], kind: .deployment)
        let view = cluster.view()
        #expect(view.routes.services.first?.defaultTarget == "ml/a")
        #expect(view.warnings == ["service ml/digits has releases x, y and no serving.thaw.dev/default-release annotation on its Service; x is the default"])
    }
}

/// What the activator's routing table needs of a config.
enum RoutingTableCheck {
    static func hostsAreUnique(_ config: RoutingConfig) -> Bool {
        let hosts = config.targets.flatMap(\.hosts) + config.services.flatMap(\.hosts)
        return Set(hosts).count == hosts.count
    }
}

/// The cluster defaults (config-autoscaler) change while Thaw runs: every workload is read again.
@Suite struct ClusterDefaultsChangeTests {
    @Test func newDefaultsApplyToWorkloadsThatDoNotSetTheirOwn() throws {
        var cluster = ClusterState()
        cluster.replaceWorkloads(["ml/a": ClusterStateTests.deployment("a"),
                                  "ml/b": ClusterStateTests.deployment("b", service: "b", annotations: #", "autoscaling.knative.dev/target": "3""#)],
                                 kind: .deployment)
        let before = Dictionary(uniqueKeysWithValues: cluster.view().targets.map { ($0.name, $0.policy.decider.targetValue) })
        #expect(before.count == 2)
        var config = AutoscalerConfig()
        config.containerConcurrencyTargetDefault = 7
        cluster.setConfig(config)
        let after = Dictionary(uniqueKeysWithValues: cluster.view().targets.map { ($0.name, $0.policy.decider.targetValue) })
        #expect(after["ml/b"] == before["ml/b"], "a workload's own annotation still wins")
        #expect(abs((after["ml/a"] ?? 0) - (before["ml/a"] ?? 0) * 0.07) < 1e-9, "the default went from 100 to 7: \(before) → \(after)")
    }
}
