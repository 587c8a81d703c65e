import RemoteReadCodec
import SeriesSignals

/// The recent past of exporter scrapes, kept as series so the same reduction code that reads
/// Prometheus' answers reads them too: without a Prometheus server, this is the collector's
/// short-term storage.
public struct ScrapeHistory: Sendable {
    /// How long points are kept: the longest window of any signal.
    public let horizon: Duration
    private var series: [[String: String]: [SeriesPoint]] = [:]

    public init(horizon: Duration) {
        self.horizon = horizon
    }

    public var seriesCount: Int { series.count }

    /// Adds one scrape taken at `milliseconds` (a line's own timestamp wins) and forgets points older
    /// than the horizon, and series that have none left (a pod that went away).
    public mutating func add(_ samples: [ScrapedSample], at milliseconds: Int64) {
        for sample in samples {
            var labels = sample.labels
            labels["__name__"] = sample.name
            let stamp = sample.timestampMilliseconds ?? milliseconds
            var points = series[labels, default: []]
            if let last = points.last, last.timestampMilliseconds >= stamp { continue }
            points.append(SeriesPoint(stamp, sample.value))
            series[labels] = points
        }
        let oldest = milliseconds - horizon.milliseconds
        for (labels, points) in series {
            let kept = points.filter { $0.timestampMilliseconds >= oldest }
            series[labels] = kept.isEmpty ? nil : kept
        }
    }

    /// The series every matcher accepts, as remote read would have returned them.
    public func select(_ matchers: [LabelMatch]) throws -> [Series] {
        let compiled = try CompiledMatchers(matchers)
        return series.filter { compiled.accept($0.key) }.map { Series(labels: $0.key, points: $0.value) }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
