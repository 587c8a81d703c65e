/// One second of traffic for one target, as seen by one reporter (the activator, or a replica's queue sidecar).
///
/// The autoscaler adds these up across reporters, so every field is a per-reporter quantity: the
/// activator's concurrency counts requests it holds (queued or being proxied), a sidecar's counts
/// requests inside its replica. JSON is the wire format: one report per target per second is far too
/// little traffic for a binary encoding to matter, and a person can read it with `curl`.
public struct StatReport: Codable, Sendable, Equatable {
    /// The target's name: a release's predictor (`mnist-v1`) or a service's transformer.
    public var target: String
    /// Who measured this: `activator` or a replica's name. Reports from one source replace, not add.
    public var source: String
    /// End of the measured period, in seconds since the Unix epoch.
    public var timestamp: Double
    /// Time-weighted average number of requests in the period (queued ones included for the activator).
    public var averageConcurrency: Double
    /// Requests that arrived in the period.
    public var requestCount: Double
    /// Requests waiting for a replica at the end of the period (always 0 from a sidecar with free capacity).
    public var queueLength: Int
    /// Average concurrency of requests that came through the activator (sidecars only), so they are not counted twice.
    public var averageProxiedConcurrency: Double
    /// Requests in the period that came through the activator (sidecars only).
    public var proxiedRequestCount: Double

    public init(target: String, source: String, timestamp: Double, averageConcurrency: Double, requestCount: Double,
                queueLength: Int = 0, averageProxiedConcurrency: Double = 0, proxiedRequestCount: Double = 0) {
        self.target = target
        self.source = source
        self.timestamp = timestamp
        self.averageConcurrency = averageConcurrency
        self.requestCount = requestCount
        self.queueLength = queueLength
        self.averageProxiedConcurrency = averageProxiedConcurrency
        self.proxiedRequestCount = proxiedRequestCount
    }
}

/// The body of `POST /v1/stats`: every target a reporter measured in one period, in one request.
public struct StatBatch: Codable, Sendable, Equatable {
    public var stats: [StatReport]
    public init(stats: [StatReport]) { self.stats = stats }
}

/// The body of `POST /v1/poke`: a request is waiting for a target that has no ready replica.
///
/// Sent the moment the first such request arrives, so a scale from zero starts within milliseconds
/// rather than at the autoscaler's next tick.
public struct Poke: Codable, Sendable, Equatable {
    public var target: String
    public var source: String
    /// Requests waiting for the target when the poke was sent.
    public var queueLength: Int
    public init(target: String, source: String, queueLength: Int) {
        self.target = target
        self.source = source
        self.queueLength = queueLength
    }
}

/// Where the two messages go, relative to the autoscaler's base URL; both sides use these.
public enum StatPaths {
    public static let stats = "/v1/stats"
    public static let poke = "/v1/poke"
    /// Per-target values from the collector (`MetricBatch`).
    public static let metrics = "/v1/metrics"
}

/// One per-target value the collector computed from Prometheus (or an exporter): for GPU
/// utilization, the sum over the target's replicas of their utilization percent.
public struct MetricValue: Codable, Sendable, Equatable {
    public var target: String
    /// The signal: `gpu`.
    public var metric: String
    public var value: Double
    /// End of the window the value covers, in seconds since the Unix epoch.
    public var timestamp: Double
    public var source: String

    public init(target: String, metric: String, value: Double, timestamp: Double, source: String) {
        self.target = target
        self.metric = metric
        self.value = value
        self.timestamp = timestamp
        self.source = source
    }
}

/// A per-target signal the collector could not read this round (source down, nothing selected):
/// the autoscaler holds the scale on it, and counts failures in a row for the fallback.
public struct MetricFailure: Codable, Sendable, Equatable {
    public var target: String
    public var metric: String
    /// Why, for logs and `/status`: the source's error or "no series selected".
    public var reason: String
    /// The source answered, but no replica of the target has a value: the normal state of a target
    /// at zero replicas, and a failure only while it has ready ones.
    public var empty: Bool
    public var timestamp: Double
    public var source: String

    public init(target: String, metric: String, reason: String, empty: Bool = false, timestamp: Double, source: String) {
        self.target = target
        self.metric = metric
        self.reason = reason
        self.empty = empty
        self.timestamp = timestamp
        self.source = source
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        target = try container.decode(String.self, forKey: .target)
        metric = try container.decode(String.self, forKey: .metric)
        reason = try container.decode(String.self, forKey: .reason)
        empty = try container.decodeIfPresent(Bool.self, forKey: .empty) ?? false
        timestamp = try container.decode(Double.self, forKey: .timestamp)
        source = try container.decode(String.self, forKey: .source)
    }
}

/// The body of `POST /v1/metrics`: one value or one failure per target and signal per round.
public struct MetricBatch: Codable, Sendable, Equatable {
    public var values: [MetricValue]
    public var failures: [MetricFailure]

    public init(values: [MetricValue], failures: [MetricFailure] = []) {
        self.values = values
        self.failures = failures
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        values = try container.decode([MetricValue].self, forKey: .values)
        failures = try container.decodeIfPresent([MetricFailure].self, forKey: .failures) ?? []
    }
}
