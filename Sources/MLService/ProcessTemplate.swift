import ThawVocabulary

/// How to start one replica of a component, with its templates still unrendered: the port (and for
/// a transformer the predictor's address) is known only when the supervisor starts the replica.
public struct ProcessTemplate: Sendable, Equatable {
    /// Names the component in render errors, e.g. "MLService digits, release v1 predictor".
    public var component: String
    /// Templates; the first renders to the executable.
    public var command: [String]
    public var args: [String]
    public var env: [EnvVar]
    /// Absolute directory the process starts in.
    public var workingDirectory: String
    /// `model.parameters`, plus `MODEL_PATH` for a `file://` model URI unless set explicitly.
    public var parameters: [String: String]
    /// What a render error for a missing parameter tells the user to do: a model-backed predictor
    /// sets parameters in `model.parameters`; a transformer or custom predictor has none to set.
    public var missingParameterHint: String

    public init(component: String, command: [String], args: [String] = [], env: [EnvVar] = [],
                workingDirectory: String, parameters: [String: String] = [:],
                missingParameterHint: String = "set it in model.parameters") {
        self.component = component
        self.command = command
        self.args = args
        self.env = env
        self.workingDirectory = workingDirectory
        self.parameters = parameters
        self.missingParameterHint = missingParameterHint
    }

    /// Renders every template with `parameters` and `extra` (the replica's own values such as PORT and
    /// PREDICTOR_HOST, which win over parameters of the same name). The environment holds the rendered
    /// `env`, MODEL_PATH when it is a parameter (unless `env` sets it), and every `extra` value, so a
    /// model server learns its port both as `{{.PORT}}` and as `$PORT`.
    public func render(extra: [String: String]) throws -> LocalCommand {
        let values = parameters.merging(extra) { _, replica in replica }
        func render(_ text: String, _ element: String) throws -> String {
            do {
                return try GoTemplate(text).render(values, missingHint: missingParameterHint)
            } catch let error as TemplateError {
                throw TemplateError("\(component), \(element): \(error.message)", missingParameter: error.missingParameter)
            }
        }
        let command = try self.command.enumerated().map { try render($1, "command[\($0)]") }
        guard let executable = command.first, !executable.isEmpty else {
            throw TemplateError("\(component), command[0]: the command is empty; set the program to run in the runtime's or the component's containers[0].command")
        }
        var environment: [String: String] = [:]
        if let modelPath = parameters["MODEL_PATH"] { environment["MODEL_PATH"] = modelPath }
        for variable in env {
            environment[variable.name] = try render(variable.value, "env \(variable.name)")
        }
        environment.merge(extra) { _, replica in replica }
        return LocalCommand(executable: executable,
                            arguments: Array(command.dropFirst()) + (try args.enumerated().map { try render($1, "args[\($0)]") }),
                            environment: environment, workingDirectory: workingDirectory)
    }
}
