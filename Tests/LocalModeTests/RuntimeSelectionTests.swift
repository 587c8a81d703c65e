import ConfigFields
import ControlHTTP
import Foundation
import MLService
import Testing
import ThawTestSupport

extension KServeAndGRPCEndToEnd {
    /// KServe's ServingRuntime and ClusterServingRuntime next to MLServiceRuntime, and a predictor that
    /// names only its `model.modelFormat`: the highest-priority runtime that may be auto-selected wins,
    /// a tie is refused naming the tied runtimes.
    @Suite struct RuntimeSelectionTests {
        /// Two KServe runtimes for `sklearn` (priorities `low` and `high`), each running echo-backend under
        /// its own name, and a service whose predictor names only the format.
        static func file(low: Int = 1, high: Int = 2, predictorFormat: String = "{name: sklearn, version: \"1.3\"}",
                         runtime: String? = nil, extraRuntime: String = "") -> String {
            func kserveRuntime(_ kind: String, _ name: String, priority: Int, formats: String) -> String {
                """
                apiVersion: serving.kserve.io/v1alpha1
                kind: \(kind)
                metadata: {name: \(name)}
                spec:
                  supportedModelFormats:
                  \(formats.replacingOccurrences(of: "PRIORITY", with: String(priority)))
                  protocolVersions: [v1, v2]
                  containers:
                  - name: kserve-container
                    image: example/\(name):1
                    command: ["echo-backend"]
                    args: ["--port", "{{.PORT}}", "--name", "\(name)-{{.Name}}"]
                ---

                """
            }
            return kserveRuntime("ServingRuntime", "low", priority: low, formats: "- {name: sklearn, version: \"1\", autoSelect: true, priority: PRIORITY}")
                + kserveRuntime("ClusterServingRuntime", "high", priority: high,
                          formats: "- {name: xgboost, autoSelect: true}\n  - {name: sklearn, version: \"1\", autoSelect: true, priority: PRIORITY}")
                + extraRuntime + """
                apiVersion: tensorstack.dev/v1beta1
                kind: MLService
                metadata: {name: iris}
                spec:
                  default: v1
                  releases:
                  - name: v1
                    predictor:
                      minReplicas: 1
                      model:
                        modelFormat: \(predictorFormat)\(runtime.map { "\n        runtime: \($0)" } ?? "")
                      template:
                        metadata:
                          annotations:
                            serving.thaw.dev/readiness-path: /ready
                """
        }

        static func parse(_ text: String) throws -> MLServiceFile {
            try MLServiceFile.parse(text, file: "iris.yaml", baseDirectory: "/srv")
        }

        @Test func theHighestPriorityRuntimeForTheFormatIsChosen() throws {
            let parsed = try Self.parse(Self.file())
            #expect(parsed.services[0].releases[0].runtime == "high")
            #expect(parsed.runtimes["high"]?.kind == "ClusterServingRuntime")
            #expect(parsed.runtimes["low"]?.supportedModelFormats == [SupportedModelFormat(name: "sklearn", version: "1", autoSelect: true, priority: 1)])
            let process = parsed.services[0].releases[0].predictor.process
            #expect(try process.render(extra: ["PORT": "9000"]).arguments == ["--port", "9000", "--name", "high-iris"], "{{.Name}} is the service")
            #expect(try Self.parse(Self.file(low: 5, high: 2)).services[0].releases[0].runtime == "low")
        }

        @Test func aTieIsRefusedNamingBothRuntimesAtThePredictorsLine() throws {
            let text = Self.file(low: 3, high: 3)
            let error = try #require(throws: ConfigError.self) { try Self.parse(text) }
            #expect(error.description.contains("by ClusterServingRuntime high and ServingRuntime low"), "\(error)")
            #expect(error.description.contains("same priority (3)"))
            let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("modelFormat:") }) + 1
            #expect(error.description.hasPrefix("iris.yaml:\(line): "), "the line of model.modelFormat: \(error)")
        }

        @Test func versionsMatchByMajorAndOnlyAutoSelectableEnabledRuntimesCount() throws {
            // Version 2 of the format: neither runtime (both say 1) supports it.
            let error = try #require(throws: ConfigError.self) { try Self.parse(Self.file(predictorFormat: "{name: sklearn, version: \"2.0\"}")) }
            #expect(error.description.contains("no enabled runtime supports model format sklearn version 2.0"), "\(error)")
            // No version asked: any entry for the name will do.
            #expect(try Self.parse(Self.file(predictorFormat: "{name: sklearn}")).services[0].releases[0].runtime == "high")
            // A disabled runtime and one that does not allow auto-selection are passed over.
            let disabled = Self.file().replacingOccurrences(of: "protocolVersions: [v1, v2]\n  containers:\n  - name: kserve-container\n    image: example/high:1",
                                                            with: "disabled: true\n  containers:\n  - name: kserve-container\n    image: example/high:1")
            #expect(try Self.parse(disabled).services[0].releases[0].runtime == "low")
            let notAuto = Self.file().replacingOccurrences(of: "{name: sklearn, version: \"1\", autoSelect: true, priority: 2}",
                                                           with: "{name: sklearn, version: \"1\", autoSelect: false}")
            #expect(try Self.parse(notAuto).services[0].releases[0].runtime == "low")
        }

        @Test func anExplicitRuntimeThatDoesNotListTheFormatIsAnError() throws {
            let error = try #require(throws: ConfigError.self) {
                try Self.parse(Self.file(predictorFormat: "{name: xgboost}", runtime: "low"))
            }
            #expect(error.description.contains("ServingRuntime \"low\" does not list model format xgboost (it supports: sklearn 1)"), "\(error)")
            #expect(try Self.parse(Self.file(predictorFormat: "{name: xgboost}", runtime: "high")).services[0].releases[0].runtime == "high")
        }

        @Test func aGRPCOnlyRuntimeIsAnH2CTargetAndAWrongAPIVersionIsNamed() throws {
            // Both speak only grpc-v2 now: a predictor that asks for nothing (v1, KServe's default) finds
            // neither; one that asks for grpc-v2 gets the higher priority's, as an h2c target.
            let grpc = Self.file().replacingOccurrences(of: "protocolVersions: [v1, v2]", with: "protocolVersions: [grpc-v2]")
            let unspoken = try #require(throws: ConfigError.self) { try Self.parse(grpc) }
            #expect(unspoken.description.contains("protocol v1"), "\(unspoken)")
            let asked = grpc.replacingOccurrences(of: "modelFormat: {name: sklearn, version: \"1.3\"}",
                                                  with: "modelFormat: {name: sklearn, version: \"1.3\"}\n        protocolVersion: grpc-v2")
            let release = try Self.parse(asked).services[0].releases[0]
            #expect(release.runtime == "high")
            #expect(release.predictor.replicaProtocol == .h2c)
            let wrong = Self.file().replacingOccurrences(of: "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime",
                                                         with: "apiVersion: serving.kserve.io/v1beta1\nkind: ServingRuntime")
            let error = try #require(throws: ConfigError.self) { try Self.parse(wrong) }
            #expect(error.description.contains("expected \"serving.kserve.io/v1alpha1\" for ServingRuntime"), "\(error)")
        }

        @Test func thawUpRunsTheChosenRuntimesCommandAndRefusesATie() async throws {
            let up = try await ThawUp(yaml: Self.file(), services: ["iris"])
            try await up.waitUntil("a ready replica", timeout: 30) { $0["iris-v1"]?.ready == 1 }
            let response = try await up.request("iris", path: "/")
            #expect(response.status == 200)
            #expect(response.header("x-backend") == "high-iris", "the priority-2 runtime's command runs")

            let directory = try scratchDirectory("runtime-tie")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("tie.yaml")
            try Self.file(low: 2, high: 2).write(to: file, atomically: true, encoding: .utf8)
            let tie = try TestProcess("thaw", ["up", file.path, "--port", "0", "--plain"])
            #expect(try await tie.waitForExit(timeout: 20) != 0)
            #expect(tie.stderr.contains("ServingRuntime low") && tie.stderr.contains("ClusterServingRuntime high"), "\(tie.stderr)")
        }
    }
}
