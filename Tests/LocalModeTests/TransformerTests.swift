import AutoscalerDaemon
import ControlHTTP
import Foundation
import NIOCore
import Testing
import ThawTestSupport
import ThawVocabulary

/// The example service (digits model server and transformer) under `thaw up`: the transformer
/// reaches the predictors through the activator, and each is scaled on its own traffic.
@Suite(.serialized)
struct TransformerTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/digits")

    static func yaml(latencyMs: Int) -> String {
        let model = examples.appendingPathComponent("model").path
        return """
            apiVersion: tensorstack.dev/v1beta1
            kind: MLServiceRuntime
            metadata:
              name: digits-runtime
            spec:
              template:
                metadata:
                  annotations:
                    autoscaling.knative.dev/initial-scale: "0"
                    autoscaling.knative.dev/window: "6s"
                    autoscaling.thaw.dev/scale-to-zero-grace-period: "2s"
                    autoscaling.knative.dev/target: "2"
                    autoscaling.knative.dev/target-utilization-percentage: "100"
                spec:
                  containers:
                  - name: user-container
                    command: ["digits-model-server"]
                    args: ["--model={{.MODEL_PATH}}", "--port={{.PORT}}", "--latency-ms=\(latencyMs)"]
            ---
            apiVersion: tensorstack.dev/v1beta1
            kind: MLService
            metadata:
              name: digits
            spec:
              default: v1
              canary: v2
              canaryTrafficPercent: 20
              releases:
              - name: v1
                predictor:
                  minReplicas: 0
                  maxReplicas: 3
                  model: {runtime: digits-runtime, modelUri: "file://\(model)/digits-v1.json"}
              - name: v2
                predictor:
                  minReplicas: 0
                  maxReplicas: 1
                  model: {runtime: digits-runtime, modelUri: "file://\(model)/digits-v2.json"}
              transformer:
                minReplicas: 0
                template:
                  metadata:
                    annotations:
                      autoscaling.knative.dev/initial-scale: "0"
                      autoscaling.knative.dev/window: "6s"
                      autoscaling.knative.dev/target: "100"
                  spec:
                    containers:
                    - name: user-container
                      command: ["digits-transformer"]
                      args: ["--port={{.PORT}}", "--predictor-host={{.PREDICTOR_HOST}}"]
            """
    }

    @Test func anImageGoesThroughTheTransformerToAPredictorBothScaledFromZero() async throws {
        let up = try await ThawUp(yaml: Self.yaml(latencyMs: 0), services: ["digits"])
        let image = try Data(contentsOf: Self.examples.appendingPathComponent("images/digit-3-918.pgm"))
        let response = try await up.request("digits", path: "/v2/models/digits/infer", method: .POST, body: Array(image))
        #expect(response.status == 200, "body: \(response.body)")
        #expect(response.body.contains("\"label\":3"), "body: \(response.body)")
        let status = try await up.status()
        #expect(status["digits-transformer"]?.ready == 1)
        // The one request went to exactly one release, which started; the other stayed at zero.
        let v1 = status["digits-v1"]?.ready ?? 0, v2 = status["digits-v2"]?.ready ?? 0
        #expect(v1 + v2 == 1, "v1 \(v1), v2 \(v2)")
    }

    @Test func loadOnAPredictorScalesItWithoutTouchingTheTransformer() async throws {
        let up = try await ThawUp(yaml: Self.yaml(latencyMs: 150), services: ["digits"])
        let image = try Data(contentsOf: Self.examples.appendingPathComponent("images/digit-3-918.pgm"))
        #expect(try await up.request("digits", path: "/v2/models/digits/infer", method: .POST, body: Array(image)).status == 200)
        // Straight to release v1 on the activator's main port: 8 clients, 150 ms per inference,
        // 2 in flight per replica wanted.
        let tensor = Array(#"{"inputs":[{"name":"input-0","shape":[1,64],"datatype":"FP32","data":[\#(Array(repeating: "0", count: 64).joined(separator: ","))]}]}"#.utf8)
        let stop = ManagedFlag()
        async let load: [Int] = withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var codes: [Int] = []
                    while !stop.isSet {
                        codes.append(try await HTTPCall.perform(on: ThawUp.group.any(), to: up.activator, method: .POST, path: "/v2/models/digits/infer",
                                                                headers: [("host", "digits-v1.thaw.local")], body: tensor, timeout: .seconds(30)).status)
                    }
                    return codes
                }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        // Stopped whatever happens: a failed wait must not leave eight clients looping.
        let scaled: [String: TargetStatus]
        do {
            scaled = try await up.waitUntil("v1 scaled up by direct load", timeout: 40) { ($0["digits-v1"]?.ready ?? 0) >= 2 }
        } catch {
            stop.set()
            _ = try? await load
            throw error
        }
        stop.set()
        let codes = try await load
        #expect(codes.allSatisfy { $0 == 200 }, "codes: \(Dictionary(grouping: codes, by: { $0 }).mapValues(\.count))")
        #expect(scaled["digits-transformer"]?.requested == 1, "the transformer got no new traffic and keeps its one replica")
        #expect((scaled["digits-v1"]?.requested ?? 0) >= 2)
    }
}
