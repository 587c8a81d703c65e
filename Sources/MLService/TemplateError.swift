/// A template that cannot be parsed or rendered. Kept apart from `ConfigError` because a template is
/// rendered again for every replica, long after the file it came from was read.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The parameter whose absence caused the error, so callers can word the fix for their context.
    public var missingParameter: String?

    public init(_ message: String, missingParameter: String? = nil) {
        self.message = message
        self.missingParameter = missingParameter
    }

    public var description: String { message }
}
