/// What the activator routes: targets (a release's predictor or a transformer) with their replica
/// endpoints, and services whose host splits traffic between a default and a canary release.
///
/// This is the shape every endpoint source produces, whether it reads a file, runs local replicas or
/// watches Kubernetes, so the data path never knows where its routes came from.
public struct RoutingConfig: Sendable, Equatable, Encodable {
    public var targets: [TargetConfig]
    public var services: [ServiceConfig]

    public init(targets: [TargetConfig] = [], services: [ServiceConfig] = []) {
        self.targets = targets
        self.services = services
    }
}

/// One thing whose replicas are scaled: requests for it are queued while it has no ready endpoint.
public struct TargetConfig: Sendable, Equatable, Encodable {
    public static let defaultQueueLimit = 10_000
    public static let defaultTimeoutSeconds = 300.0

    public var name: String
    /// `Host` header values routed to this target alone.
    public var hosts: [String]
    /// Only requests whose path starts with this are routed here; "/" matches all.
    public var pathPrefix: String
    /// Replica addresses; each gets traffic only once its readiness probe passes. Empty means scaled to zero.
    public var endpoints: [EndpointAddress]
    /// Requests one endpoint serves at once; 0 means no limit.
    public var containerConcurrency: Int
    /// Path of the HTTP GET that must answer 2xx before an endpoint gets traffic.
    public var readinessPath: String
    /// Requests that may wait for capacity before new ones are refused with 503.
    public var queueLimit: Int
    /// Time a request may take, waiting included, before it is answered 504.
    public var timeoutSeconds: Double
    /// Set by the endpoint source when the target cannot come up (crash loop, activation timeout):
    /// waiting requests fail at once with this reason instead of waiting for their timeout.
    public var failure: String?
    /// What the replicas speak: HTTP/1.1, or HTTP/2 with prior knowledge (gRPC model servers).
    public var `protocol`: ReplicaProtocol

    public init(name: String, hosts: [String] = [], pathPrefix: String = "/", endpoints: [EndpointAddress] = [],
                containerConcurrency: Int = 0, readinessPath: String = "/", queueLimit: Int = Self.defaultQueueLimit,
                timeoutSeconds: Double = Self.defaultTimeoutSeconds, failure: String? = nil, protocol: ReplicaProtocol = .http1) {
        self.name = name
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.endpoints = endpoints
        self.containerConcurrency = containerConcurrency
        self.readinessPath = readinessPath
        self.queueLimit = queueLimit
        self.timeoutSeconds = timeoutSeconds
        self.failure = failure
        self.protocol = `protocol`
    }
}

/// What a target's replicas speak. Clients may use either on any proxy port; a request reaches an
/// `h2c` target only as an HTTP/2 stream, and an `http1` target only as an HTTP/1.1 request.
public enum ReplicaProtocol: String, Sendable, Equatable, Encodable, CaseIterable {
    case http1
    /// HTTP/2 over cleartext with prior knowledge: what gRPC servers speak. For such a target the
    /// readiness path names a gRPC method that must answer OK (`/grpc.health.v1.Health/Check`).
    case h2c

    /// The routing file's `protocol` and the `serving.thaw.dev/protocol` annotation: `grpc` is a
    /// name for `h2c`.
    public init?(field: String) {
        switch field.lowercased() {
        case "http1", "http/1.1", "http": self = .http1
        case "h2c", "grpc", "http2", "h2": self = .h2c
        default: return nil
        }
    }

    /// The values a user may write, for error messages.
    public static let accepted = "http1 or h2c (grpc)"
}

/// A service's own host: a share of its requests goes to the canary release, the rest to the default.
public struct ServiceConfig: Sendable, Equatable, Encodable {
    public var name: String
    public var hosts: [String]
    public var pathPrefix: String
    /// The target that gets requests not sent to the canary.
    public var defaultTarget: String
    public var canaryTarget: String?
    /// Percentage (0...100) of the service's requests sent to `canaryTarget`.
    public var canaryTrafficPercent: Double
    /// A target that gets a copy of `mirrorPercent` of the service's requests; its answers are
    /// discarded, and the client never waits for it (cube-studio's Istio mirror).
    public var mirrorTarget: String?
    public var mirrorPercent: Double = 0

    /// The routing file's field names.
    enum CodingKeys: String, CodingKey {
        case name, hosts, pathPrefix, canaryTrafficPercent, mirrorPercent
        case mirrorTarget = "mirror"
        case defaultTarget = "default"
        case canaryTarget = "canary"
    }

    public init(name: String, hosts: [String], pathPrefix: String = "/", defaultTarget: String,
                canaryTarget: String? = nil, canaryTrafficPercent: Double = 0, mirrorTarget: String? = nil, mirrorPercent: Double = 0) {
        self.mirrorTarget = mirrorTarget
        self.mirrorPercent = mirrorPercent
        self.name = name
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.defaultTarget = defaultTarget
        self.canaryTarget = canaryTarget
        self.canaryTrafficPercent = canaryTrafficPercent
    }
}
