import ConfigFields
import ThawVocabulary

/// A predictor or transformer: what the autoscaler needs to size it and the supervisor to start it.
public struct ComponentSpec: Sendable, Equatable {
    /// The template parameters (also set as environment) the supervisor gives every replica: its own
    /// `PORT`, and for a transformer `PREDICTOR_HOST`, the address of the predictors it forwards to.
    public static func replicaParameters(port: Int, predictorHost: String?) -> [String: String] {
        var parameters = ["PORT": String(port)]
        if let predictorHost { parameters["PREDICTOR_HOST"] = predictorHost }
        return parameters
    }

    /// The names `replicaParameters` sets for a predictor (`forTransformer` false) or a transformer.
    public static func replicaParameterNames(forTransformer: Bool) -> [String] {
        replicaParameters(port: 0, predictorHost: forTransformer ? "" : nil).keys.sorted()
    }

    /// Nil when unset (callers treat that as 1); 0 allows scaling to zero.
    public var minReplicas: Int?
    /// Nil for no limit (unset or 0 in the file).
    public var maxReplicas: Int?
    /// The pod template's annotations, the runtime's first and the component's winning: these, not
    /// the MLService object's own annotations, carry the `autoscaling.knative.dev/*` settings.
    public var annotations: [String: String]
    /// Where each of `annotations` is written (in the runtime, or in the component's own template).
    public var annotationSources: [String: SourceLine]
    /// Requests one replica serves at once; 0 means no limit, nil that the file does not say.
    public var containerConcurrency: Int?
    public var process: ProcessTemplate
    /// The container's `readinessProbe.httpGet.path` (the component's own, else its runtime's).
    public var readinessPath: String?

    /// The annotation naming a model server's readiness path (Thaw's own; not an autoscaling key).
    public static let readinessPathKey = "serving.thaw.dev/readiness-path"
    /// KServe's V2 protocol path, for a model server that says nothing else.
    public static let defaultReadinessPath = "/v2/health/ready"

    /// The annotation saying what the model server speaks: `grpc` (or `h2c`) for HTTP/2 with prior
    /// knowledge; HTTP/1.1 when absent.
    public static let protocolKey = "serving.thaw.dev/protocol"
    /// The gRPC health protocol's method, the readiness check of a gRPC model server that says nothing else.
    public static let grpcReadinessPath = "/grpc.health.v1.Health/Check"

    /// What the model server speaks; nil when the annotation names nothing Thaw knows (the caller
    /// reports it at its line).
    public var replicaProtocol: ReplicaProtocol? {
        guard let text = annotations[Self.protocolKey] else { return .http1 }
        return ReplicaProtocol(field: text)
    }

    /// Where readiness is checked: an explicit annotation, else the container's readinessProbe,
    /// else the V2 protocol's path. For a gRPC model server the path names the method called, by
    /// default the health protocol's (an `httpGet` probe path is no gRPC method, so it is not used).
    /// Local mode and `thaw render` both go by this.
    public var effectiveReadinessPath: String {
        if let path = annotations[Self.readinessPathKey] { return path }
        if replicaProtocol == .h2c { return Self.grpcReadinessPath }
        return readinessPath ?? Self.defaultReadinessPath
    }
    /// The container's `readinessProbe` timing (the component's own, else its runtime's).
    public var readinessTiming: ProbeTiming?
    /// The container image (the component's own, else its runtime's), for `thaw render`.
    public var image: String?
    /// Where its sidecar sends request and response bodies (`logger`); nil: nowhere.
    public var logger: PayloadLoggerSpec?

    public init(minReplicas: Int? = nil, maxReplicas: Int? = nil, annotations: [String: String] = [:],
                containerConcurrency: Int? = nil, process: ProcessTemplate, readinessPath: String? = nil,
                readinessTiming: ProbeTiming? = nil, annotationSources: [String: SourceLine] = [:]) {
        self.readinessTiming = readinessTiming
        self.annotationSources = annotationSources
        self.readinessPath = readinessPath
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.annotations = annotations
        self.containerConcurrency = containerConcurrency
        self.process = process
    }
}

/// A component's `logger` (MLService and KServe): which bodies its sidecar sends, and where.
public struct PayloadLoggerSpec: Sendable, Equatable {
    public static let modes = ["all", "request", "response"]
    /// `all`, `request` or `response`.
    public var mode: String
    /// The sink, `http://HOST:PORT/PATH`.
    public var url: String

    public init(mode: String = "all", url: String) {
        self.mode = mode
        self.url = url
    }
}
