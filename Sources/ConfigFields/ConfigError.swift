import Foundation

/// A problem with an input file (a policy, a trace, a routing table), located by file and line so the
/// user can go straight to it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line, or nil for a problem with the whole file.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Where a value was written (file and line), kept past parsing for the checks that come later:
/// an annotation's policy is validated when a plan is made, and its error should still point at it.
public struct SourceLine: Sendable, Equatable {
    public var file: String
    public var line: Int?

    public init(file: String, line: Int?) {
        self.file = file
        self.line = line
    }

    public func error(_ message: String) -> ConfigError { ConfigError(file: file, line: line, message) }
}
