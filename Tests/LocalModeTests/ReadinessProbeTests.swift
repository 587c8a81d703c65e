import LocalMode
import MLService
import Testing
import ThawVocabulary

/// A model server's readiness comes from what its container declares. (Before, local mode ignored
/// `readinessProbe` and probed /v2/health/ready, so TorchServe's /ping or TF Serving's
/// /v1/models/NAME never became ready and requests hung until their timeout.)
@Suite struct ReadinessProbeTests {
    static let file = """
        apiVersion: tensorstack.dev/v1beta1
        kind: MLServiceRuntime
        metadata: {name: torchserve}
        spec:
          template:
            spec:
              containers:
                - name: server
                  command: ["/usr/bin/torchserve", "--port", "{{.PORT}}"]
                  readinessProbe:
                    httpGet: {path: /ping, port: 8080}
                    initialDelaySeconds: 5
        ---
        apiVersion: tensorstack.dev/v1beta1
        kind: MLService
        metadata: {name: shop}
        spec:
          default: a
          releases:
            - name: a
              predictor:
                model: {runtime: torchserve}
            - name: b
              predictor:
                model: {runtime: torchserve}
                template:
                  spec:
                    containers:
                      - readinessProbe: {httpGet: {path: /v1/models/shop}}
            - name: c
              predictor:
                model: {runtime: torchserve}
                template:
                  metadata:
                    annotations: {serving.thaw.dev/readiness-path: /explicit}
          transformer:
            template:
              spec:
                containers:
                  - command: ["/usr/bin/transformer"]
                    readinessProbe: {httpGet: {path: /healthz}}
        """

    @Test func theContainersReadinessProbePathIsProbedAndAnAnnotationStillWins() throws {
        let parsed = try MLServiceFile.parse(Self.file, file: "shop.yaml", baseDirectory: "/srv")
        let plan = try localPlan(parsed, portsFrom: 42000)
        let paths = Dictionary(uniqueKeysWithValues: plan.routes.targets.map { ($0.name, $0.readinessPath) })
        #expect(paths["shop-a"] == "/ping", "the runtime's probe")
        #expect(paths["shop-b"] == "/v1/models/shop", "the release's own probe wins over the runtime's")
        #expect(paths["shop-c"] == "/explicit", "the annotation wins over both")
        #expect(paths["shop-transformer"] == "/healthz")
        #expect(plan.targets.first { $0.name == "shop-a" }?.readinessPath == "/ping", "the sidecar probes the same path")
        #expect(parsed.warnings.contains { $0.contains("readinessProbe.httpGet.port") }, "\(parsed.warnings)")
        #expect(!parsed.warnings.contains { $0.contains("initialDelaySeconds") }, "the timing is used, not ignored: \(parsed.warnings)")
        let timings = Dictionary(uniqueKeysWithValues: plan.targets.map { ($0.name, $0.readinessTiming) })
        #expect(timings["shop-a"] == ProbeTiming(initialDelay: .seconds(5)), "the runtime's, with Kubernetes' defaults for the rest")
        #expect(timings["shop-b"] == ProbeTiming(), "the release's own probe wins whole")
        #expect(timings["shop-c"] == ProbeTiming(initialDelay: .seconds(5)))
        #expect(timings["shop-transformer"] == ProbeTiming())
    }

    @Test func timingOutsideWhatKubernetesAcceptsIsRefusedAtItsLine() throws {
        for (field, value) in [("periodSeconds", "0"), ("failureThreshold", "0"), ("initialDelaySeconds", "-1"), ("timeoutSeconds", "7200")] {
            let broken = Self.file.replacingOccurrences(of: "initialDelaySeconds: 5", with: "\(field): \(value)")
            #expect {
                _ = try MLServiceFile.parse(broken, file: "shop.yaml", baseDirectory: "/srv")
            } throws: { "\($0)".hasPrefix("shop.yaml:12: ") && "\($0)".contains(field) }
        }
    }

    @Test func aProbePathThatIsNotAPathIsRefusedWithItsField() throws {
        let broken = Self.file.replacingOccurrences(of: "path: /ping", with: "path: ping")
        #expect {
            _ = try MLServiceFile.parse(broken, file: "shop.yaml", baseDirectory: "/srv")
        } throws: { "\($0)".contains("path") && "\($0)".contains("must be a path starting with /") }
    }
}
