import ConfigFields
import Testing
@testable import MLService

/// The example from the T9k documentation as local mode runs it: a runtime, and a service with two
/// releases, a 20% canary and a transformer.
let digitsYAML = """
apiVersion: tensorstack.dev/v1beta1
kind: MLServiceRuntime
metadata:
  name: digits-runtime
spec:
  enabled: true
  template:
    spec:
      containers:
      - name: user-container
        image: example/digits:1
        command: ["digits-model-server"]
        args:
        - "--model-dir={{if .MODEL_PATH}}{{.MODEL_PATH}}{{else}}all{{end}}"
        - "--port={{.PORT}}"
        env:
        - name: LOAD_DELAY
          value: "{{.LOAD_DELAY}}"
        - name: LOG_LEVEL
          value: info
---
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata:
  name: digits
  namespace: demo
spec:
  default: v1
  canary: v2
  canaryTrafficPercent: 20
  releases:
  - name: v1
    predictor:
      minReplicas: 0
      maxReplicas: 4
      model:
        runtime: digits-runtime
        modelUri: file://model/digits-v1.json
        parameters:
          LOAD_DELAY: "2"
      template:
        metadata:
          annotations:
            autoscaling.knative.dev/target: "4"
        spec:
          containerConcurrency: 8
  - name: v2
    predictor:
      model:
        runtime: digits-runtime
        modelUri: file:///models/digits-v2.json
        parameters:
          LOAD_DELAY: 0
      template:
        spec:
          containers:
          - name: user-container
            env:
            - name: LOG_LEVEL
              value: debug
            - name: EXTRA
              value: "yes"
  transformer:
    minReplicas: 0
    maxReplicas: 3
    template:
      metadata:
        annotations:
          autoscaling.knative.dev/metric: rps
          autoscaling.knative.dev/target: 10
      spec:
        containerConcurrency: 0
        containers:
        - name: user-container
          command: ["digits-transformer"]
          args: ["--port={{.PORT}}", "--predictor={{.PREDICTOR_HOST}}"]
          env: [{name: X, value: "y"}]
"""

let runtimeYAML = """
apiVersion: tensorstack.dev/v1beta1
kind: MLServiceRuntime
metadata:
  name: digits-runtime
spec:
  template:
    spec:
      containers:
      - name: user-container
        command: ["digits-model-server"]
        args: ["--port={{.PORT}}"]
"""

/// A minimal valid service around `spec` lines (indented by two spaces), after the runtime.
func serviceYAML(name: String = "digits", _ spec: String) -> String {
    """
    \(runtimeYAML)
    ---
    apiVersion: tensorstack.dev/v1beta1
    kind: MLService
    metadata:
      name: \(name)
    spec:
    \(spec)
    """
}

/// One release v1 with the runtime, with `predictor` lines (indented to sit under `predictor:`) added.
func predictorYAML(_ predictor: String = "", model: String = "runtime: digits-runtime") -> String {
    serviceYAML("""
      default: v1
      releases:
      - name: v1
        predictor:
          model:
            \(model)
    \(predictor)
    """)
}

func parse(_ yaml: String) throws -> MLServiceFile {
    try MLServiceFile.parse(yaml, file: "digits.yaml", baseDirectory: "/srv/demo")
}

/// The error `yaml` fails with, as the user sees it; records an issue when it parses.
func failure(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        _ = try parse(yaml)
        Issue.record("expected the file to be rejected", sourceLocation: sourceLocation)
        return ""
    } catch let error as ConfigError {
        return error.description
    } catch {
        Issue.record("expected a ConfigError, got \(error)", sourceLocation: sourceLocation)
        return ""
    }
}
