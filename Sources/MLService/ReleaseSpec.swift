/// One release of a service (e.g. v1 and its canary v2): a predictor serving one model version.
public struct ReleaseSpec: Sendable, Equatable {
    public var name: String
    public var predictor: ComponentSpec
    /// The MLServiceRuntime the predictor runs, nil for a custom predictor.
    public var runtime: String?
    /// The absolute local path of `model.modelUri`, nil without one.
    public var modelPath: String?

    public init(name: String, predictor: ComponentSpec, runtime: String? = nil, modelPath: String? = nil) {
        self.name = name
        self.predictor = predictor
        self.runtime = runtime
        self.modelPath = modelPath
    }

    /// The model's name in payload events: the model file's name without its extension, else the service's.
    public func modelName(service: String) -> String {
        guard let modelPath, let last = modelPath.split(separator: "/").last else { return service }
        return String(last.split(separator: ".").first ?? last)
    }
}
