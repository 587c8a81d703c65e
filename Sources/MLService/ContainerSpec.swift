import ThawVocabulary

/// The parts of a Kubernetes container that local mode uses to start a process.
public struct ContainerSpec: Sendable, Equatable {
    public var name: String?
    /// Templates, already checked to parse.
    public var command: [String]
    public var args: [String]
    public var env: [EnvVar]
    /// `workingDir` made absolute against the YAML file's directory; nil when unset.
    public var workingDirectory: String?
    /// `readinessProbe.httpGet.path`: where the model server says it is ready (TorchServe `/ping`,
    /// TF Serving `/v1/models/NAME`); nil when the container declares none.
    public var readinessPath: String?
    /// `readinessProbe`'s timing (initialDelaySeconds, periodSeconds, timeoutSeconds,
    /// failureThreshold, with Kubernetes' defaults); nil when the container declares no probe.
    public var readinessTiming: ProbeTiming?
    /// `image`: unused locally (a process runs instead), what `thaw render` puts in the Deployment.
    public var image: String?

    public init(name: String? = nil, command: [String] = [], args: [String] = [], env: [EnvVar] = [],
                workingDirectory: String? = nil) {
        self.name = name
        self.command = command
        self.args = args
        self.env = env
        self.workingDirectory = workingDirectory
    }
}
