import ConfigFields

/// An MLServiceRuntime: the model server a predictor with `model.runtime` runs, with its templates.
public struct RuntimeSpec: Sendable, Equatable {
    public var name: String
    /// A disabled runtime may be declared but not used.
    public var enabled: Bool
    /// The template's first container; local mode runs no other.
    public var container: ContainerSpec
    /// The runtime template's annotations, defaults for the predictors that use it.
    public var annotations: [String: String]
    /// Where each annotation is written.
    public var annotationSources: [String: SourceLine]

    public init(name: String, enabled: Bool = true, container: ContainerSpec, annotations: [String: String] = [:],
                annotationSources: [String: SourceLine] = [:]) {
        self.annotationSources = annotationSources
        self.name = name
        self.enabled = enabled
        self.container = container
        self.annotations = annotations
    }
}
