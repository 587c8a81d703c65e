import ConfigFields
import Foundation
import Testing
@testable import MLService

@Suite struct MLServiceFileTests {
    @Test func readsTheFullExample() throws {
        let file = try parse(digitsYAML)
        let runtime = try #require(file.runtimes["digits-runtime"])
        #expect(runtime.enabled)
        #expect(runtime.container.command == ["digits-model-server"])
        #expect(runtime.container.args == ["--model-dir={{if .MODEL_PATH}}{{.MODEL_PATH}}{{else}}all{{end}}", "--port={{.PORT}}"])

        #expect(file.services.count == 1)
        let service = try #require(file.services.first)
        #expect(service.name == "digits")
        #expect(service.namespace == "demo")
        #expect(service.defaultRelease == "v1")
        #expect(service.canary == "v2")
        #expect(service.canaryTrafficPercent == 20)
        #expect(service.releases.map(\.name) == ["v1", "v2"])

        let v1 = try #require(service.release(named: "v1"))
        #expect(v1.runtime == "digits-runtime")
        #expect(v1.modelPath == "/srv/demo/model/digits-v1.json")
        #expect(v1.predictor.minReplicas == 0)
        #expect(v1.predictor.maxReplicas == 4)
        #expect(v1.predictor.annotations == ["autoscaling.knative.dev/target": "4"])
        #expect(v1.predictor.containerConcurrency == 8)
        #expect(v1.predictor.process == ProcessTemplate(
            component: "MLService digits, release v1 predictor",
            command: ["digits-model-server"],
            args: ["--model-dir={{if .MODEL_PATH}}{{.MODEL_PATH}}{{else}}all{{end}}", "--port={{.PORT}}"],
            env: [EnvVar(name: "LOAD_DELAY", value: "{{.LOAD_DELAY}}"), EnvVar(name: "LOG_LEVEL", value: "info")],
            workingDirectory: "/srv/demo",
            parameters: ["LOAD_DELAY": "2", "MODEL_PATH": "/srv/demo/model/digits-v1.json"]))

        let v2 = try #require(service.release(named: "v2"))
        #expect(v2.modelPath == "/models/digits-v2.json", "file:/// paths are absolute")
        #expect(v2.predictor.minReplicas == nil)
        #expect(v2.predictor.maxReplicas == nil)
        #expect(v2.predictor.containerConcurrency == nil)
        #expect(v2.predictor.annotations.isEmpty)
        #expect(v2.predictor.process.parameters == ["LOAD_DELAY": "0", "MODEL_PATH": "/models/digits-v2.json"])

        let transformer = try #require(service.transformer)
        #expect(transformer.minReplicas == 0)
        #expect(transformer.maxReplicas == 3)
        #expect(transformer.containerConcurrency == 0)
        #expect(transformer.annotations == ["autoscaling.knative.dev/metric": "rps", "autoscaling.knative.dev/target": "10"])
        #expect(transformer.process.command == ["digits-transformer"])
        #expect(transformer.process.args == ["--port={{.PORT}}", "--predictor={{.PREDICTOR_HOST}}"])
        #expect(transformer.process.env == [EnvVar(name: "X", value: "y")])
        #expect(transformer.process.parameters.isEmpty)
    }

    @Test func warnsAboutTheImageWithItsLocation() throws {
        let file = try parse(digitsYAML)
        #expect(file.warnings == [
            "digits.yaml:11: MLServiceRuntime digits-runtime (document 1): field \"spec.template.spec.containers[0].image\" is ignored in local mode: replicas run the command as a process on this machine, not in a container",
        ])
    }

    @Test func warnsAboutClusterOnlyFieldsWithoutFailing() throws {
        let file = try parse(predictorYAML("""
              resources: {limits: {cpu: 1}}
              template:
                spec:
                  nodeSelector: {gpu: "true"}
                  containers:
                  - name: user-container
                    image: example/x:1
                    resources: {requests: {memory: 1Gi}}
                    readinessProbe: {httpGet: {path: /, port: 8080}}
        """))
        let fields = ["spec.releases[0].predictor.resources",
                      "spec.releases[0].predictor.template.spec.nodeSelector",
                      "spec.releases[0].predictor.template.spec.containers[0].image",
                      "spec.releases[0].predictor.template.spec.containers[0].resources",
                      "spec.releases[0].predictor.template.spec.containers[0].readinessProbe.httpGet.port"]
        for field in fields {
            #expect(file.warnings.contains { $0.contains("MLService digits (document 2): field \"\(field)\" is ignored") }, "\(field)")
        }
        #expect(file.warnings.count == fields.count)
    }

    @Test func warnsThatTheObjectsOwnAnnotationsDoNotScale() throws {
        let yaml = predictorYAML().replacingOccurrences(of: "  name: digits\n",
            with: "  name: digits\n  annotations: {autoscaling.knative.dev/target: \"4\"}\n  uid: 1234\n")
        let file = try parse(yaml)
        #expect(file.warnings.count == 2)
        #expect(file.warnings.contains { $0.contains("\"metadata.annotations\"") && $0.contains("template.metadata.annotations") })
        #expect(file.warnings.contains { $0.contains("\"metadata.uid\"") })
        #expect(file.services[0].releases[0].predictor.annotations.isEmpty)
    }

    @Test func resolvesFileURIsAgainstTheBaseDirectory() throws {
        let relative = try parse(predictorYAML(model: "{runtime: digits-runtime, modelUri: \"file://./models/../models/v1\"}"))
        #expect(relative.services[0].releases[0].modelPath == "/srv/demo/models/v1")
        #expect(relative.services[0].releases[0].predictor.process.parameters["MODEL_PATH"] == "/srv/demo/models/v1")
        let absolute = try parse(predictorYAML(model: "{runtime: digits-runtime, modelUri: \"file:///data/v1.json\"}"))
        #expect(absolute.services[0].releases[0].modelPath == "/data/v1.json")
    }

    @Test func anExplicitModelPathParameterIsKept() throws {
        let file = try parse(predictorYAML(model: "{runtime: digits-runtime, modelUri: \"file://m\", parameters: {MODEL_PATH: /elsewhere}}"))
        #expect(file.services[0].releases[0].modelPath == "/srv/demo/m")
        #expect(file.services[0].releases[0].predictor.process.parameters["MODEL_PATH"] == "/elsewhere")
    }

    @Test func loadTakesPathsFromTheFilesDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlservice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("digits.yaml").path
        try digitsYAML.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try MLServiceFile.load(contentsOf: path)
        let expected = directory.appendingPathComponent("model/digits-v1.json").standardizedFileURL.path
        #expect(file.services[0].releases[0].modelPath == expected)
        #expect(file.services[0].releases[0].predictor.process.workingDirectory == directory.standardizedFileURL.path)
        #expect(file.warnings.first?.hasPrefix(path + ":") == true)
    }

    @Test func loadNamesAFileItCannotRead() {
        let error = #expect(throws: ConfigError.self) { try MLServiceFile.load(contentsOf: "/nonexistent/digits.yaml") }
        #expect(error?.description.contains("/nonexistent/digits.yaml") == true, "the message names the file: \(String(describing: error))")
    }

    @Test func workingDirIsRelativeToTheYAMLDirectory() throws {
        let file = try parse(predictorYAML("""
              template:
                spec:
                  containers:
                  - name: user-container
                    workingDir: examples/digits
        """))
        #expect(file.services[0].releases[0].predictor.process.workingDirectory == "/srv/demo/examples/digits")
    }

    @Test func skipsEmptyDocumentsButCountsThem() throws {
        let file = try parse("---\n---\n# nothing here\n---\n" + runtimeYAML)
        #expect(file.runtimes.keys.sorted() == ["digits-runtime"])
        #expect(file.services.isEmpty)
        let message = failure("---\n---\n" + runtimeYAML.replacingOccurrences(of: "kind: MLServiceRuntime", with: "kind: Pod"))
        #expect(message.hasPrefix("digits.yaml:4: document 2: field \"kind\": \"Pod\" is not supported"),
                "the empty document after the first --- counts, and the line is the field's in the file")
    }

    @Test func allowsServicesBeforeTheirRuntime() throws {
        let yaml = predictorYAML()
        let documents = yaml.components(separatedBy: "\n---\n")
        let file = try parse(documents[1] + "\n---\n" + documents[0])
        #expect(file.services[0].releases[0].runtime == "digits-runtime")
    }

    @Test func ignoresStatusWithAWarning() throws {
        let file = try parse(runtimeYAML + "\nstatus: {ready: true}\n")
        #expect(file.warnings.count == 1)
        #expect(file.warnings[0].contains("field \"status\" is ignored"))
    }

    @Test func rejectsInvalidYAML() {
        #expect(failure("kind: [unclosed").contains("not valid YAML"))
    }

    @Test func rejectsADocumentThatIsNotAnObject() {
        #expect(failure(runtimeYAML + "\n---\n- a\n- b\n").contains("document 2: expected an MLService or MLServiceRuntime object"))
    }
}

/// An MLService file's errors and warnings sit at the field's own line (issue 14: they pointed at
/// the document's first line).
@Suite struct FieldLineTests {
    @Test func anErrorDeepInADocumentNamesTheFieldsLine() throws {
        let yaml = digitsYAML.replacingOccurrences(of: "maxReplicas: 3", with: "maxReplicas: three")
        let line = try #require(yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("maxReplicas: three") }) + 1
        let message = failure(yaml)
        #expect(message.hasPrefix("digits.yaml:\(line): MLService digits (document 2): field \"spec.transformer.maxReplicas\" must be a number"), "\(message)")
    }

    @Test func aWarningNamesTheIgnoredFieldsLine() throws {
        let yaml = predictorYAML("""
              template:
                spec:
                  nodeSelector: {gpu: "true"}
        """)
        let file = try parse(yaml)
        let line = try #require(yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("nodeSelector") }) + 1
        #expect(file.warnings.contains { $0.hasPrefix("digits.yaml:\(line): ") && $0.contains("nodeSelector") }, "\(file.warnings)")
    }
}
