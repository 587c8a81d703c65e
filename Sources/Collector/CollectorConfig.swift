import ConfigFields
import PrometheusClient
import RemoteReadCodec
import ScalingPolicy
import SeriesSignals

/// What a collector reads and where it sends it, from a YAML (or JSON) file: one source (a
/// Prometheus server, or dcgm-exporters scraped directly) and the signals of each target.
public struct CollectorConfig: Sendable {
    public enum Source: Sendable {
        case prometheus(SourceConnection)
        /// Exporter pages, all scraped each round (one dcgm-exporter per GPU node).
        case exporters([SourceConnection])
    }

    public var autoscaler: String?
    public var interval: Duration
    public var source: Source
    public var signals: [SignalDefinition]

    public static let defaultInterval = Duration.seconds(5)

    public init(autoscaler: String? = nil, interval: Duration = CollectorConfig.defaultInterval, source: Source, signals: [SignalDefinition]) {
        self.autoscaler = autoscaler
        self.interval = interval
        self.source = source
        self.signals = signals
    }

    public static func load(contentsOf path: String) throws -> CollectorConfig {
        try parse(FieldReader.document(contentsOf: path, what: "the collector file", expected: expectedTopLevel))
    }

    public static func parse(_ text: String, file: String) throws -> CollectorConfig {
        try parse(FieldReader.document(text, file: file, expected: expectedTopLevel))
    }

    private static let expectedTopLevel = "\"signals\" and \"prometheus\" or \"exporters\""

    private static func parse(_ root: FieldReader) throws -> CollectorConfig {
        try root.rejectUnknown(allowed: ["autoscaler", "interval", "prometheus", "exporters", "signals"])
        let interval = try root.duration("interval") ?? defaultInterval
        let source: Source
        switch (try root.object("prometheus"), try root.objectList("exporters")) {
        case (let prometheus?, nil):
            source = .prometheus(try prometheus.connection(interval: interval))
        case (nil, let exporters?) where !exporters.isEmpty:
            source = .exporters(try exporters.map { try $0.connection(interval: interval) })
        case (nil, _):
            throw root.error("missing source: set \"prometheus\" (with a url) or \"exporters\" (a list of metrics pages)")
        default:
            throw root.error("\"prometheus\" and \"exporters\" are both set; a collector reads one source (run two collectors for two)")
        }
        guard let signalReaders = try root.objectList("signals"), !signalReaders.isEmpty else {
            throw root.error("missing field \"signals\": list each target's signal (target, selector)")
        }
        var seen = Set<String>()
        let signals = try signalReaders.map { reader in
            let signal = try reader.signal()
            if case .exporters = source, signal.reduction == .counterRate, signal.window < interval * 2 {
                // Scrapes are the only samples: a rate needs two of them inside the window.
                throw reader.error("field \"\(reader.path)window\" must be at least twice the interval (\(GoDuration.format(interval * 2))) "
                                   + "for a rate read from exporters, got \(GoDuration.format(signal.window))")
            }
            guard seen.insert(signal.target + " " + signal.metric).inserted else {
                throw reader.error("target \"\(signal.target)\" has two \(signal.metric) signals; keep one")
            }
            return signal
        }
        return CollectorConfig(autoscaler: try root.string("autoscaler"), interval: interval, source: source, signals: signals)
    }
}

extension FieldReader {
    func duration(_ key: String) throws -> Duration? {
        guard let text = try string(key) else { return nil }
        guard let duration = GoDuration.parse(text), duration > .zero else {
            throw error("field \"\(path)\(key)\" must be a positive duration like 5s or 1m, got \"\(text)\"")
        }
        return duration
    }

    /// A source's connection; its read timeout defaults to 10 s or the polling interval, whichever is
    /// shorter, so a hung source never makes a round last longer than the interval.
    func connection(interval: Duration) throws -> SourceConnection {
        try rejectUnknown(allowed: ["url", "timeout", "basicAuth", "bearerTokenFile", "caFile", "headers"])
        guard let url = try string("url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw error("field \"\(path)url\" must be an http:// or https:// URL")
        }
        var connection = SourceConnection(baseURL: url, timeoutSeconds: min(10, interval.secondsValue))
        if let timeout = try duration("timeout") {
            guard timeout <= interval else {
                throw error("field \"\(path)timeout\" (\(GoDuration.format(timeout))) must not be longer than the interval "
                            + "(\(GoDuration.format(interval))): a read must end before the next round")
            }
            connection.timeoutSeconds = timeout.secondsValue
        }
        if let auth = try object("basicAuth") {
            try auth.rejectUnknown(allowed: ["username", "password", "passwordFile"])
            guard let username = try auth.string("username") else { throw auth.error("missing field \"\(auth.path)username\"") }
            switch (try auth.string("password"), try auth.string("passwordFile")) {
            case (let password?, nil): connection.basicAuth = .init(username: username, password: .value(password))
            case (nil, let file?): connection.basicAuth = .init(username: username, password: .file(SecretFile(path: file)))
            default: throw auth.error("set one of \"\(auth.path)password\" or \"\(auth.path)passwordFile\"")
            }
        }
        connection.bearerTokenFile = try string("bearerTokenFile").map(SecretFile.init(path:))
        connection.caFile = try string("caFile")
        connection.headers = (try stringMap("headers") ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if connection.basicAuth != nil, connection.bearerTokenFile != nil {
            throw error("\"\(path)basicAuth\" and \"\(path)bearerTokenFile\" are both set; a request carries one Authorization header")
        }
        return connection
    }

    func signal() throws -> SignalDefinition {
        try rejectUnknown(allowed: ["target", "metric", "selector", "reduce", "perReplica", "window", "exporterPods"])
        guard let target = try string("target"), !target.isEmpty else {
            throw error("missing field \"\(path)target\" (the scale target's name, e.g. digits-v1)")
        }
        let metric = try string("metric") ?? "gpu"
        guard metric == "gpu" else {
            throw error("field \"\(path)metric\" must be gpu (the signal the autoscaler takes from the collector), got \"\(metric)\"")
        }
        guard let selector = try string("selector") else {
            throw error("missing field \"\(path)selector\", e.g. 'DCGM_FI_DEV_GPU_UTIL{exported_pod=~\"\(target)-.*\"}'")
        }
        let reduction: SeriesReduction
        switch try string("reduce") ?? "average" {
        case "average": reduction = .gaugeAverage
        case "rate": reduction = .counterRate
        case let other: throw error("field \"\(path)reduce\" must be average (a gauge) or rate (a counter), got \"\(other)\"")
        }
        let combinationText = try string("perReplica") ?? "average"
        guard let combination = ReplicaCombination(rawValue: combinationText) else {
            throw error("field \"\(path)perReplica\" must be average or sum (how a pod's GPUs combine), got \"\(combinationText)\"")
        }
        do {
            return try SignalDefinition(target: target, metric: metric, selector: selector, reduction: reduction, perReplica: combination,
                                        window: try duration("window") ?? .seconds(30),
                                        exporterPods: Set(try stringList("exporterPods") ?? []))
        } catch let error as SeriesSelector.Invalid {
            throw self.error("field \"\(path)selector\": \(error)")
        }
    }
}
