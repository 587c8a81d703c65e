/// A replica ready to start: every template rendered for its port.
public struct LocalCommand: Sendable, Equatable {
    /// The program to run: a path, or a name to look up in `PATH`.
    public var executable: String
    public var arguments: [String]
    /// Variables to set on top of the supervisor's own environment.
    public var environment: [String: String]
    /// Absolute directory the process starts in.
    public var workingDirectory: String

    public init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}
