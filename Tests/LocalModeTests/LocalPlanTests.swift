@testable import AutoscalerDaemon
import Foundation
import Logging
import MLService
import ScaleTargets
import Testing
@testable import LocalMode
import ThawVocabulary

/// How an MLService file becomes targets, routes and policies, and how the status table reads.
struct LocalPlanTests {
    static let file = """
        apiVersion: tensorstack.dev/v1beta1
        kind: MLServiceRuntime
        metadata: {name: rt}
        spec:
          template:
            spec:
              containers: [{name: c, command: ["server"], args: ["--port={{.PORT}}"]}]
        ---
        apiVersion: tensorstack.dev/v1beta1
        kind: MLService
        metadata: {name: shop}
        spec:
          default: a
          canary: b
          canaryTrafficPercent: 30
          releases:
          - name: a
            predictor:
              minReplicas: 0
              maxReplicas: 5
              model: {runtime: rt}
              template:
                metadata:
                  annotations:
                    autoscaling.knative.dev/max-scale: "9"
                    serving.thaw.dev/readiness-path: /healthy
          - name: b
            predictor: {model: {runtime: rt}, template: {metadata: {annotations: {autoscaling.knative.dev/max-scale: "3"}}}}
          - name: old
            predictor: {minReplicas: 2, model: {runtime: rt}}
          transformer:
            template:
              spec:
                containerConcurrency: 4
                containers: [{name: t, command: ["transform"], args: ["--to={{.PREDICTOR_HOST}}"]}]
        """

    @Test func aMissingSidecarStopsLocalModeBeforeAnythingStarts() throws {
        let parsed = try MLServiceFile.parse(Self.file, file: "shop.yaml", baseDirectory: "/srv")
        let options = LocalCluster.Options(binDirectory: "/nonexistent/bin", logDirectory: "/tmp")
        #expect {
            _ = try LocalCluster.Scaling(file: parsed, options: options, port: 0, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("the sidecar /nonexistent/bin/thaw-queue is missing or not executable")
        }
    }

    func plan() throws -> LocalPlan {
        let parsed = try MLServiceFile.parse(Self.file, file: "shop.yaml", baseDirectory: "/srv")
        return try localPlan(parsed, portsFrom: 41000)
    }

    @Test func aGRPCModelServerIsAnH2CTargetCheckedByTheHealthProtocol() throws {
        let grpc = Self.file.replacingOccurrences(of: "predictor: {minReplicas: 2, model: {runtime: rt}}",
                                                  with: "predictor: {minReplicas: 2, model: {runtime: rt}, template: {metadata: {annotations: {serving.thaw.dev/protocol: grpc}}}}")
        let plan = try localPlan(try MLServiceFile.parse(grpc, file: "shop.yaml", baseDirectory: "/srv"), portsFrom: 41000)
        let route = try #require(plan.routes.targets.first { $0.name == "shop-old" })
        #expect(route.protocol == .h2c)
        #expect(route.readinessPath == "/grpc.health.v1.Health/Check")
        let target = try #require(plan.targets.first { $0.name == "shop-old" })
        #expect(target.protocol == .h2c)
        #expect(plan.routes.targets.filter { $0.name != "shop-old" }.allSatisfy { $0.protocol == .http1 })

        let bad = grpc.replacingOccurrences(of: "serving.thaw.dev/protocol: grpc", with: "serving.thaw.dev/protocol: spdy")
        #expect {
            _ = try localPlan(try MLServiceFile.parse(bad, file: "shop.yaml", baseDirectory: "/srv"), portsFrom: 41000)
        } throws: { error in
            "\(error)".hasPrefix("shop.yaml:30: ") && "\(error)".contains("spdy") && "\(error)".contains("h2c")
        }
    }

    @Test func everyReleaseAndTheTransformerIsItsOwnTarget() throws {
        let plan = try plan()
        #expect(plan.targets.map(\.name) == ["shop-a", "shop-b", "shop-old", "shop-transformer"])
        #expect(plan.scaled.map(\.name) == plan.targets.map(\.name))
        let policies = Dictionary(uniqueKeysWithValues: plan.scaled.map { ($0.name, $0.policy.replicas) })
        #expect(policies["shop-a"]?.minScale == 0)
        #expect(policies["shop-a"]?.maxScale == 5, "the MLService field wins over the annotation")
        #expect(policies["shop-b"]?.minScale == 1, "unset minReplicas means 1")
        #expect(policies["shop-b"]?.maxScale == 3, "without maxReplicas the annotation applies")
        #expect(policies["shop-old"]?.maxScale == 0, "with neither, no upper bound")
        #expect(policies["shop-old"]?.minScale == 2)
        #expect(policies["shop-old"]?.reachable == false, "a release that is neither default nor canary gets no traffic")
        #expect(plan.warnings.contains { $0.contains("max-scale") && $0.contains("overridden") })
    }

    @Test func theServiceHostReachesTheTransformerAndThePredictorHostSplits() throws {
        let plan = try plan()
        let transformer = try #require(plan.routes.targets.first { $0.name == "shop-transformer" })
        #expect(transformer.hosts.contains("shop.thaw.local"))
        #expect(transformer.containerConcurrency == 4)
        let split = try #require(plan.routes.services.first)
        #expect(split.hosts == ["shop-predictor.thaw.local"])
        #expect(split.defaultTarget == "shop-a")
        #expect(split.canaryTarget == "shop-b")
        #expect(split.canaryTrafficPercent == 30)
        #expect(plan.routes.targets.first { $0.name == "shop-a" }?.readinessPath == "/healthy")
        #expect(plan.routes.targets.first { $0.name == "shop-b" }?.readinessPath == LocalPlan.defaultReadinessPath)
        let predictorPort = try #require(plan.services.first?.predictorPort)
        #expect(plan.hostPorts.contains(.init(port: predictorPort, host: "shop-predictor.thaw.local")))
        let command = try #require(plan.targets.first { $0.name == "shop-transformer" }).command(5000)
        #expect(command.arguments == ["--to=127.0.0.1:\(predictorPort)"])
        #expect(command.environment["PREDICTOR_HOST"] == "127.0.0.1:\(predictorPort)")
        #expect(command.environment["PORT"] == "5000")
    }

    @Test func driverStatesFillTheRoutesEndpointsAndFailures() throws {
        let plan = try plan()
        let endpoint = try #require(EndpointAddress("127.0.0.1:9001"))
        let routes = plan.routes.following([
            TargetState(name: "shop-a", endpoints: [endpoint], ready: [endpoint]),
            TargetState(name: "shop-b", failure: "crash-looping"),
        ])
        #expect(routes.targets.first { $0.name == "shop-a" }?.endpoints == [endpoint])
        #expect(routes.targets.first { $0.name == "shop-b" }?.failure == "crash-looping")
        #expect(routes.targets.first { $0.name == "shop-old" }?.endpoints == [])
    }

    @Test func theStatusTableShowsEachReleaseWithItsShare() throws {
        let run = LocalCluster.RunFile(
            pid: 1, addresses: .init(activator: "127.0.0.1:8080", activatorAdmin: "127.0.0.1:9090", autoscaler: "127.0.0.1:8090"),
            services: [.init(name: "shop", host: "shop.thaw.local", port: 8081, transformer: nil, predictorHost: nil, releases: [
                .init(release: "a", target: "shop-a", host: "shop-a.thaw.local", trafficPercent: 70, role: "default"),
                .init(release: "b", target: "shop-b", host: "shop-b.thaw.local", trafficPercent: 30, role: "canary"),
            ])], logDirectory: "/tmp/x")
        let status = TargetStatus(name: "shop-a", metric: "concurrency", requested: 3, running: 3, ready: 2, desired: 3, stable: 5,
                                  panic: 9, targetPerReplica: 2, panicking: true, excessBurstCapacity: -1, rps: 12.5, queueLength: 4,
                                  activity: "active", reason: "desired 3", holding: false, failure: nil)
        let table = StatusTable.render(run, targets: [status])
        #expect(table.contains("service shop: http://127.0.0.1:8081"))
        let row = try #require(table.split(separator: "\n").first { $0.contains("a (70%)") })
        #expect(row.split(separator: " ", omittingEmptySubsequences: true) == ["a", "(70%)", "3", "2", "12.5", "4", "yes", "active"],
                "target, requested, ready, rps, queue, panic, state: \(row)")
        #expect(table.contains("b (30% canary)"))
        #expect(table.contains("unknown to the autoscaler"), "a target the autoscaler does not report is shown as such")
    }
}
