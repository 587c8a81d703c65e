import Testing
@testable import MLService
import ThawVocabulary

@Suite struct ProcessTemplateTests {
    @Test func rendersAReleaseForItsPort() throws {
        let file = try parse(digitsYAML)
        let command = try file.services[0].releases[0].predictor.process.render(extra: ["PORT": "41234"])
        #expect(command == LocalCommand(
            executable: "digits-model-server",
            arguments: ["--model-dir=/srv/demo/model/digits-v1.json", "--port=41234"],
            environment: ["LOAD_DELAY": "2", "LOG_LEVEL": "info", "PORT": "41234", "MODEL_PATH": "/srv/demo/model/digits-v1.json"],
            workingDirectory: "/srv/demo"))
    }

    @Test func predictorEnvIsAppendedAndWins() throws {
        let file = try parse(digitsYAML)
        let v2 = file.services[0].releases[1].predictor.process
        #expect(v2.env == [EnvVar(name: "LOAD_DELAY", value: "{{.LOAD_DELAY}}"), EnvVar(name: "LOG_LEVEL", value: "debug"),
                           EnvVar(name: "EXTRA", value: "yes")])
        let command = try v2.render(extra: ["PORT": "9001"])
        #expect(command.environment["LOG_LEVEL"] == "debug")
        #expect(command.environment["LOAD_DELAY"] == "0")
        #expect(command.environment["EXTRA"] == "yes")
    }

    @Test func mergeReplacesByName() {
        let merged = EnvVar.merge([EnvVar(name: "A", value: "1"), EnvVar(name: "B", value: "2")],
                                  [EnvVar(name: "A", value: "9"), EnvVar(name: "C", value: "3")])
        #expect(merged == [EnvVar(name: "B", value: "2"), EnvVar(name: "A", value: "9"), EnvVar(name: "C", value: "3")])
    }

    @Test func rendersTheTransformerWithThePredictorsAddress() throws {
        let file = try parse(digitsYAML)
        let transformer = try #require(file.services[0].transformer)
        let command = try transformer.process.render(extra: ["PORT": "41235", "PREDICTOR_HOST": "127.0.0.1:9000"])
        #expect(command.executable == "digits-transformer")
        #expect(command.arguments == ["--port=41235", "--predictor=127.0.0.1:9000"])
        #expect(command.environment == ["X": "y", "PORT": "41235", "PREDICTOR_HOST": "127.0.0.1:9000"])
    }

    @Test func aCustomPredictorRunsItsOwnContainer() throws {
        let file = try parse(serviceYAML("""
          default: v1
          releases:
          - name: v1
            predictor:
              minReplicas: 1
              template:
                spec:
                  containers:
                  - name: user-container
                    command: ["python3", "serve.py"]
                    args: ["--port", "{{.PORT}}"]
                    env: [{name: THREADS, value: 4}]
        """))
        let release = file.services[0].releases[0]
        #expect(release.runtime == nil)
        #expect(release.modelPath == nil)
        #expect(release.predictor.process.parameters.isEmpty)
        let command = try release.predictor.process.render(extra: ["PORT": "8081"])
        #expect(command == LocalCommand(executable: "python3", arguments: ["serve.py", "--port", "8081"],
                                        environment: ["THREADS": "4", "PORT": "8081"], workingDirectory: "/srv/demo"))
    }

    @Test func aPredictorsOwnCommandAndArgsReplaceTheRuntimes() throws {
        let file = try parse(predictorYAML("      template: {spec: {containers: [{args: [\"--listen=:{{.PORT}}\"]}]}}"))
        let command = try file.services[0].releases[0].predictor.process.render(extra: ["PORT": "7"])
        #expect(command.executable == "digits-model-server", "the command still comes from the runtime")
        #expect(command.arguments == ["--listen=:7"])
    }

    @Test func extraValuesWinOverParametersAndEnv() throws {
        let process = ProcessTemplate(component: "c", command: ["srv", "{{.PORT}}"], env: [EnvVar(name: "PORT", value: "1")],
                                      workingDirectory: "/", parameters: ["PORT": "2", "MODEL_PATH": "/m"])
        let command = try process.render(extra: ["PORT": "3"])
        #expect(command.arguments == ["3"])
        #expect(command.environment == ["PORT": "3", "MODEL_PATH": "/m"])
    }

    @Test func envMaySetModelPathItself() throws {
        let process = ProcessTemplate(component: "c", command: ["srv"], env: [EnvVar(name: "MODEL_PATH", value: "{{.MODEL_PATH}}/v1")],
                                      workingDirectory: "/", parameters: ["MODEL_PATH": "/m"])
        #expect(try process.render(extra: [:]).environment == ["MODEL_PATH": "/m/v1"])
    }

    @Test func renderErrorsNameTheComponentAndElement() {
        let process = ProcessTemplate(component: "MLService digits, release v1 predictor", command: ["srv"],
                                      args: ["--delay={{.DELAY}}"], workingDirectory: "/")
        do {
            _ = try process.render(extra: ["PORT": "1"])
            Issue.record("expected a render error")
        } catch let error as TemplateError {
            #expect(error.message.hasPrefix("MLService digits, release v1 predictor, args[0]: template parameter .DELAY is not set; set it in model.parameters"))
            #expect(error.missingParameter == "DELAY")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func anEmptyExecutableIsAnError() {
        let process = ProcessTemplate(component: "custom", command: ["{{.BIN}}"], workingDirectory: "/", parameters: ["BIN": ""])
        #expect(throws: TemplateError("custom, command[0]: the command is empty; set the program to run in the runtime's or the component's containers[0].command")) {
            try process.render(extra: [:])
        }
    }
}
