import ConfigFields
import ControlHTTP
import Foundation
import MLService
import Testing
import ThawTestSupport

extension KServeAndGRPCEndToEnd {
    /// KServe InferenceService documents read with the MLService mapping: a KServe user's YAML runs
    /// under `thaw up` and `thaw render` as written, and what needs a cluster is a warning.
    @Suite struct InferenceServiceTests {
        static let runtime = """
            apiVersion: serving.kserve.io/v1alpha1
            kind: ClusterServingRuntime
            metadata: {name: kserve-echo}
            spec:
              supportedModelFormats:
              - {name: sklearn, version: "1", autoSelect: true}
              containers:
              - name: kserve-container
                image: example/sklearnserver:1
                command: ["echo-backend"]
                args: ["--port", "{{.PORT}}", "--name", "{{.Name}}"]
            ---

            """

        static let isvc = """
            apiVersion: serving.kserve.io/v1beta1
            kind: InferenceService
            metadata:
              name: iris
              annotations:
                autoscaling.knative.dev/window: "12s"
                serving.thaw.dev/readiness-path: /ready
            spec:
              predictor:
                minReplicas: 0
                maxReplicas: 3
                scaleMetric: rps
                scaleTarget: 5
                containerConcurrency: 2
                canaryTrafficPercent: 10
                serviceAccountName: sa
                model:
                  modelFormat: {name: sklearn, version: "1.2"}
                  storageUri: gs://kfserving-examples/models/sklearn/1.0/model
                  args: ["--ready-after", "0"]
              transformer:
                minReplicas: 0
                containers:
                - name: kserve-container
                  image: example/transformer:1
                  command: ["echo-backend"]
                  args: ["--port", "{{.PORT}}", "--name", "transformer-to-{{.PREDICTOR_HOST}}"]
            """

        @Test func theInferenceServiceMapsAsAnMLServiceWouldAndWarnsWhereAClusterIsNeeded() throws {
            let parsed = try MLServiceFile.parse(Self.runtime + Self.isvc, file: "iris.yaml", baseDirectory: "/srv")
            let service = try #require(parsed.services.first)
            #expect(service.name == "iris")
            #expect(service.releases.map(\.name) == ["default"])
            let release = service.releases[0]
            #expect(release.runtime == "kserve-echo", "chosen by the model format")
            let predictor = release.predictor
            #expect((predictor.minReplicas, predictor.maxReplicas, predictor.containerConcurrency) == (0, 3, 2))
            #expect(predictor.annotations["autoscaling.knative.dev/metric"] == "rps")
            #expect(predictor.annotations["autoscaling.knative.dev/target"] == "5")
            #expect(predictor.annotations["autoscaling.knative.dev/window"] == "12s", "the object's own annotations, as KServe reads them")
            #expect(try predictor.process.render(extra: ["PORT": "9000"]).arguments == ["--port", "9000", "--name", "iris", "--ready-after", "0"],
                    "model.args follow the runtime's")
            #expect(predictor.image == "example/sklearnserver:1")
            #expect(service.transformer?.annotations["autoscaling.knative.dev/window"] == "12s")
            let warnings = parsed.warnings.joined(separator: "\n")
            #expect(warnings.contains("canaryTrafficPercent") && warnings.contains("revision"), "\(warnings)")
            #expect(warnings.contains("storageUri") && warnings.contains("storage initializer"), "\(warnings)")
            #expect(warnings.contains("serviceAccountName"), "\(warnings)")
            #expect(!warnings.contains("metadata.annotations"), "the object's annotations are used, not ignored: \(warnings)")
        }

        @Test func aCustomPredictorRunsItsOwnContainerAndABadScaleMetricIsNamed() throws {
            let custom = """
                apiVersion: serving.kserve.io/v1beta1
                kind: InferenceService
                metadata: {name: custom}
                spec:
                  predictor:
                    containers:
                    - name: kserve-container
                      command: ["python3", "-m", "server", "--port={{.PORT}}"]
                """
            let parsed = try MLServiceFile.parse(custom, file: "custom.yaml", baseDirectory: "/srv")
            #expect(try parsed.services[0].releases[0].predictor.process.render(extra: ["PORT": "1"]).arguments == ["-m", "server", "--port=1"])
            let error = try #require(throws: ConfigError.self) {
                try MLServiceFile.parse(custom.replacingOccurrences(of: "  predictor:\n", with: "  predictor:\n    scaleMetric: latency\n"),
                                        file: "custom.yaml", baseDirectory: "/srv")
            }
            #expect(error.description.hasPrefix("custom.yaml:6: ") && error.description.contains("concurrency, rps, cpu or memory"), "\(error)")
        }

        @Test func thawUpServesTheInferenceServiceThroughItsTransformerAndThawRenderWritesItsDeployments() async throws {
            let up = try await ThawUp(yaml: Self.runtime + Self.isvc, services: ["iris"])
            // The service's port reaches the transformer, which was given the predictor's address.
            let response = try await up.request("iris", path: "/")
            #expect(response.status == 200, "\(response.body)")
            #expect(response.header("x-backend")?.hasPrefix("transformer-to-127.0.0.1:") == true, "\(response.headers)")
            let status = try await up.status()
            #expect(status["iris-default"] != nil && status["iris-transformer"] != nil, "\(status.keys.sorted())")

            let directory = try scratchDirectory("isvc-render")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("iris.yaml")
            try (Self.runtime + Self.isvc).write(to: file, atomically: true, encoding: .utf8)
            let render = try TestProcess("thaw", ["render", file.path, "--namespace", "ml"])
            #expect(try await render.waitForExit(timeout: 20) == 0, "\(render.stderr)")
            #expect(render.stdout.contains("\"iris-default\""), "\(render.stdout.prefix(2000))")
            #expect(render.stdout.contains("example/sklearnserver:1"))
        }
    }
}
