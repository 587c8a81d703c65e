import LocalMode
import MLService
import Testing

/// An autoscaling annotation a release takes from its runtime is reported against the runtime.
/// (Before, the error named the first release using the runtime, as if the release were wrong.)
@Suite struct RuntimeAnnotationTests {
    static let file = """
        apiVersion: tensorstack.dev/v1beta1
        kind: MLServiceRuntime
        metadata: {name: shared}
        spec:
          template:
            metadata:
              annotations: {autoscaling.knative.dev/target: "-1"}
            spec:
              containers:
                - command: ["/usr/bin/server", "--port", "{{.PORT}}"]
        ---
        apiVersion: tensorstack.dev/v1beta1
        kind: MLService
        metadata: {name: shop}
        spec:
          default: a
          releases:
            - {name: a, predictor: {model: {runtime: shared}}}
        """

    @Test func anAnnotationFromTheRuntimeIsBlamedOnTheRuntime() throws {
        let parsed = try MLServiceFile.parse(Self.file, file: "shop.yaml", baseDirectory: "/srv")
        #expect {
            _ = try localPlan(parsed, portsFrom: 43000)
        } throws: { error in
            let text = "\(error)"
            // At the line the runtime's annotation is written on.
            return text.hasPrefix("shop.yaml:7: MLServiceRuntime shared (used by MLService shop, release a predictor)")
                && text.contains("comes from the runtime's template; fix it there") && text.contains("autoscaling.knative.dev/target")
        }
    }

    @Test func theReleasesOwnAnnotationIsStillBlamedOnTheRelease() throws {
        let own = Self.file.replacingOccurrences(of: "{name: a, predictor: {model: {runtime: shared}}}",
                                                 with: "{name: a, predictor: {model: {runtime: shared}, template: {metadata: {annotations: {autoscaling.knative.dev/target: \"-5\"}}}}}")
        let parsed = try MLServiceFile.parse(own, file: "shop.yaml", baseDirectory: "/srv")
        #expect {
            _ = try localPlan(parsed, portsFrom: 43100)
        } throws: { "\($0)".hasPrefix("shop.yaml:18: MLService shop, release a predictor") }
    }
}
