import ConfigFields
import Testing
@testable import MLService

/// Each rule names the file, the document and the field, and says how to fix it.
@Suite struct MLServiceValidationTests {
    let release = """
      releases:
      - name: v1
        predictor: {model: {runtime: digits-runtime}}
      - name: v2
        predictor: {model: {runtime: digits-runtime}}
    """

    @Test func namesFileDocumentAndField() {
        let message = failure(serviceYAML("  default: v3\n" + release))
        #expect(message.hasPrefix("digits.yaml:"))
        #expect(message.contains("MLService digits (document 2): field \"spec.default\": \"v3\" is not a release; name one of: v1, v2"))
    }

    @Test func requiresAServiceName() {
        let message = failure(serviceYAML(name: "\"\"", "  default: v1\n" + release))
        #expect(message.contains("MLService (document 2): missing field \"metadata.name\""))
    }

    @Test func serviceNamesAreDNSLabels() {
        for name in ["Digits", "digits_v1", "-digits", "digits-", String(repeating: "a", count: 64)] {
            let message = failure(serviceYAML(name: name, "  default: v1\n" + release))
            #expect(message.contains("field \"metadata.name\" must be a DNS-1123 label"), "\(name): \(message)")
        }
        #expect(FieldReader.isDNSLabel(String(repeating: "a", count: 63)))
        #expect(FieldReader.isDNSLabel("digits-2"))
    }

    @Test func releaseNamesAreDNSLabelsAndUnique() {
        let bad = failure(serviceYAML("  default: v1\n  releases:\n  - name: V1\n    predictor: {model: {runtime: digits-runtime}}"))
        #expect(bad.contains("field \"spec.releases[0].name\" must be a DNS-1123 label"))
        let twice = failure(serviceYAML("  default: v1\n" + release.replacingOccurrences(of: "v2", with: "v1")))
        #expect(twice.contains("field \"spec.releases[1].name\": release \"v1\" is declared twice"))
    }

    @Test func requiresReleases() {
        #expect(failure(serviceYAML("  default: v1")).contains("missing field \"spec.releases\""))
        #expect(failure(serviceYAML("  default: v1\n  releases: []")).contains("missing field \"spec.releases\""))
    }

    @Test func requiresADefaultThatIsARelease() {
        let missing = failure(serviceYAML(release))
        #expect(missing.contains("missing field \"spec.default\""))
        #expect(missing.contains("one of: v1, v2"))
    }

    @Test func canaryMustBeAnotherRelease() {
        let unknown = failure(serviceYAML("  default: v1\n  canary: v9\n" + release))
        #expect(unknown.contains("field \"spec.canary\": \"v9\" is not a release; name one of: v1, v2"))
        let same = failure(serviceYAML("  default: v1\n  canary: v1\n" + release))
        #expect(same.contains("field \"spec.canary\": \"v1\" is also the default release"))
    }

    @Test func canaryPercentIsAWholeNumberUpTo100() {
        for value in ["101", "-1", "12.5", "\"20\""] {
            let message = failure(serviceYAML("  default: v1\n  canary: v2\n  canaryTrafficPercent: \(value)\n" + release))
            #expect(message.contains("field \"spec.canaryTrafficPercent\" must be"), "\(value): \(message)")
        }
    }

    @Test func canaryPercentNeedsACanary() {
        let message = failure(serviceYAML("  default: v1\n  canaryTrafficPercent: 10\n" + release))
        #expect(message.contains("field \"spec.canaryTrafficPercent\" is set but \"spec.canary\" is not"))
    }

    @Test func replicaCountsAreNonNegativeWholeNumbers() {
        let negative = failure(predictorYAML("      minReplicas: -1"))
        #expect(negative.contains("field \"spec.releases[0].predictor.minReplicas\" must be a whole number of at least 0"))
        let text = failure(predictorYAML("      maxReplicas: many"))
        #expect(text.contains("field \"spec.releases[0].predictor.maxReplicas\" must be a number"))
    }

    @Test func maxReplicasMayNotBeBelowMinReplicas() throws {
        let message = failure(predictorYAML("      minReplicas: 3\n      maxReplicas: 2"))
        #expect(message.contains("field \"spec.releases[0].predictor.maxReplicas\" (2) is less than \"spec.releases[0].predictor.minReplicas\" (3)"))
        let unbounded = try parse(predictorYAML("      minReplicas: 3\n      maxReplicas: 0"))
        #expect(unbounded.services[0].releases[0].predictor.maxReplicas == nil)
        #expect(unbounded.services[0].releases[0].predictor.minReplicas == 3)
    }

    @Test func transformerReplicasAreCheckedToo() {
        let message = failure(serviceYAML("""
          default: v1
          releases: [{name: v1, predictor: {model: {runtime: digits-runtime}}}]
          transformer:
            minReplicas: 2
            maxReplicas: 1
            template: {spec: {containers: [{command: [t]}]}}
        """))
        #expect(message.contains("field \"spec.transformer.maxReplicas\" (1) is less than"))
    }

    @Test func containerConcurrencyIsAtMost1000() {
        let message = failure(predictorYAML("      template: {spec: {containerConcurrency: 1001}}"))
        #expect(message.contains("field \"spec.releases[0].predictor.template.spec.containerConcurrency\" must be from 0 to 1000"))
    }

    @Test func runtimeMustBeDeclaredInTheFile() {
        let message = failure(predictorYAML(model: "runtime: triton"))
        #expect(message.contains("field \"spec.releases[0].predictor.model.runtime\": no MLServiceRuntime \"triton\" in this file (declared: digits-runtime)"))
    }

    @Test func disabledRuntimeMayNotBeUsed() throws {
        let disabled = predictorYAML().replacingOccurrences(of: "spec:\n  template:", with: "spec:\n  enabled: false\n  template:")
        let message = failure(disabled)
        #expect(message.contains("field \"spec.releases[0].predictor.model.runtime\": MLServiceRuntime \"digits-runtime\" is disabled"))
        let unused = try parse(runtimeYAML.replacingOccurrences(of: "spec:\n  template:", with: "spec:\n  enabled: false\n  template:"))
        #expect(unused.runtimes["digits-runtime"]?.enabled == false)
    }

    @Test func onlyFileURIsWorkLocally() {
        for uri in ["pvc://models/digits", "s3://bucket/digits", "gs://bucket/digits", "http://host/digits", "model/digits"] {
            let message = failure(predictorYAML(model: "{runtime: digits-runtime, modelUri: \"\(uri)\"}"))
            #expect(message.contains("field \"spec.releases[0].predictor.model.modelUri\": local mode supports only file:// model URIs; got \"\(uri)\""), "\(uri): \(message)")
        }
        #expect(failure(predictorYAML(model: "{runtime: digits-runtime, modelUri: \"file://\"}")).contains("names no path"))
    }

    @Test func namesMustBeUniqueWithinTheFile() {
        let services = failure(predictorYAML() + "\n---\n" + predictorYAML().components(separatedBy: "\n---\n")[1])
        #expect(services.contains("MLService digits (document 3): field \"metadata.name\": \"digits\" is already the name of MLService digits (document 2)"))
        let runtimes = failure(runtimeYAML + "\n---\n" + runtimeYAML)
        #expect(runtimes.contains("MLServiceRuntime digits-runtime (document 2): field \"metadata.name\": \"digits-runtime\" is already the name of MLServiceRuntime digits-runtime (document 1)"))
    }

    @Test func annotationValuesMustBeScalars() throws {
        let list = failure(predictorYAML("      template: {metadata: {annotations: {autoscaling.knative.dev/target: [1]}}}"))
        #expect(list.contains("field \"spec.releases[0].predictor.template.metadata.annotations.autoscaling.knative.dev/target\" must be a string"))
        let number = try parse(predictorYAML("      template: {metadata: {annotations: {autoscaling.knative.dev/target: 7}}}"))
        #expect(number.services[0].releases[0].predictor.annotations == ["autoscaling.knative.dev/target": "7"])
    }

    @Test func aPredictorNeedsACommand() {
        let message = failure(serviceYAML("  default: v1\n  releases: [{name: v1, predictor: {minReplicas: 1}}]"))
        #expect(message.contains("\"spec.releases[0].predictor\" has no command to run"))
        #expect(message.contains("set \"spec.releases[0].predictor.model.runtime\""))
        #expect(message.contains("\"spec.releases[0].predictor.template.spec.containers[0].command\""))
    }

    @Test func aTransformerNeedsACommand() {
        let message = failure(serviceYAML("""
          default: v1
          releases: [{name: v1, predictor: {model: {runtime: digits-runtime}}}]
          transformer: {minReplicas: 0}
        """))
        #expect(message.contains("\"spec.transformer\" has no command to run; set \"spec.transformer.template.spec.containers[0].command\""))
    }

    @Test func templatesAreCheckedWhenTheFileIsRead() {
        let missing = failure(predictorYAML(model: "runtime: digits-runtime")
            .replacingOccurrences(of: "args: [\"--port={{.PORT}}\"]", with: "args: [\"--port={{.PORT}}\", \"--delay={{.LOAD_DELAY}}\"]"))
        #expect(missing.contains("MLService digits (document 2): \"spec.releases[0].predictor\": release v1 predictor, args[1]: template parameter .LOAD_DELAY is not set; set it in model.parameters"))
        let syntax = failure(runtimeYAML.replacingOccurrences(of: "{{.PORT}}", with: "{{.PORT"))
        #expect(syntax.contains("MLServiceRuntime digits-runtime (document 1): field \"spec.template.spec.containers[0].args[0]\": unclosed action"))
        let transformer = failure(serviceYAML("""
          default: v1
          releases: [{name: v1, predictor: {model: {runtime: digits-runtime}}}]
          transformer:
            template: {spec: {containers: [{command: [t], env: [{name: A, value: "{{.MODEL_PATH}}"}]}]}}
        """))
        #expect(transformer.contains("transformer, env A: template parameter .MODEL_PATH is not set; a transformer has no model.parameters"))
        let predictorHost = failure(predictorYAML("      template: {spec: {containers: [{args: [\"{{.PREDICTOR_HOST}}\"]}]}}"))
        #expect(predictorHost.contains("template parameter .PREDICTOR_HOST is not set"), "only transformers get the predictor's address")
    }

    @Test func rejectsUnknownFieldsListingTheKnownOnes() {
        let spec = failure(predictorYAML("      replicas: 2"))
        #expect(spec.contains("unknown field \"spec.releases[0].predictor.replicas\"; expected one of: spec.releases[0].predictor.minReplicas"))
        let container = failure(predictorYAML("      template: {spec: {containers: [{name: c, comand: [x]}]}}"))
        #expect(container.contains("unknown field \"spec.releases[0].predictor.template.spec.containers[0].comand\""))
        let env = failure(predictorYAML("      template: {spec: {containers: [{env: [{name: A, valueFrom: {}}]}]}}"))
        #expect(env.contains("unknown field \"spec.releases[0].predictor.template.spec.containers[0].env[0].valueFrom\"; expected one of:"))
        let top = failure(runtimeYAML + "\nextra: 1\n")
        #expect(top.contains("MLServiceRuntime digits-runtime (document 1): unknown field \"extra\""))
        let model = failure(predictorYAML(model: "{runtime: digits-runtime, modelUrl: x}"))
        #expect(model.contains("unknown field \"spec.releases[0].predictor.model.modelUrl\""))
        let format = failure(predictorYAML(model: "{runtime: digits-runtime, modelFormat: onnx}"))
        #expect(format.contains("field \"spec.releases[0].predictor.model.modelFormat\" must be an object"), "KServe's {name, version}: \(format)")
    }

    @Test func rejectsUnknownKindsAndVersions() {
        let kind = failure(runtimeYAML.replacingOccurrences(of: "kind: MLServiceRuntime", with: "kind: TrainingJob"))
        #expect(kind.contains("document 1: field \"kind\": \"TrainingJob\" is not supported; expected MLService, MLServiceRuntime, or KServe's InferenceService, ServingRuntime or ClusterServingRuntime"), "\(kind)")
        let kserve = failure(runtimeYAML.replacingOccurrences(of: "kind: MLServiceRuntime", with: "kind: InferenceService"))
        #expect(kserve.contains("field \"apiVersion\" is \"tensorstack.dev/v1beta1\"; expected \"serving.kserve.io/v1beta1\" for InferenceService"), "\(kserve)")
        let noKind = failure(runtimeYAML.replacingOccurrences(of: "kind: MLServiceRuntime\n", with: ""))
        #expect(noKind.contains("document 1: missing field \"kind\""))
        let version = failure(runtimeYAML.replacingOccurrences(of: "tensorstack.dev/v1beta1", with: "serving.kserve.io/v1beta1"))
        #expect(version.contains("MLServiceRuntime digits-runtime (document 1): field \"apiVersion\" is \"serving.kserve.io/v1beta1\"; expected \"tensorstack.dev/v1beta1\""), "\(version)")
    }

    @Test func aRuntimeNeedsAContainer() {
        let message = failure(runtimeYAML.replacingOccurrences(of: "containers:", with: "volumes: []\n      containers: []\n      x:").components(separatedBy: "      x:")[0])
        #expect(message.contains("field \"spec.template.spec.containers\" must list the model server's container"))
    }
}
