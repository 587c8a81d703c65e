import ScalingPolicy
import SeriesSignals
import TrafficStats

/// One polling round turned into what the autoscaler is sent: per signal either a value (the sum
/// over the target's replicas of each replica's value) or a failure saying why there is none.
///
/// Pure, so the rules are unit tests: a read that failed, or selected nothing, or selected series
/// that map to no replica, is a failure and never a zero (zero would scale the target in).
public enum SignalRound {
    /// What reading one signal gave.
    public enum Outcome: Sendable {
        case series([Series])
        case failed(String)
    }

    /// What the round found for one signal, for the batch, `/status` and the metrics.
    public struct Result: Sendable, Equatable {
        public var target: String
        public var metric: String
        public var value: Double?
        public var replicas: Int
        public var failure: String?
        /// The source answered but no replica has a value (see `MetricFailure.empty`).
        public var empty: Bool = false
    }

    /// One result per definition, in order; a definition without an outcome is a failure too.
    public static func results(_ definitions: [SignalDefinition], outcomes: [Outcome], endMilliseconds: Int64) -> [Result] {
        definitions.enumerated().map { index, definition in
            var result = Result(target: definition.target, metric: definition.metric, value: nil, replicas: 0, failure: nil)
            guard outcomes.indices.contains(index) else {
                result.failure = "the source returned no answer for this signal"
                return result
            }
            switch outcomes[index] {
            case .failed(let reason):
                result.failure = reason
            case .series(let series):
                let start = endMilliseconds - definition.window.milliseconds
                let values = definition.replicaValues.values(of: series, from: start, to: endMilliseconds)
                let total = values.values.reduce(0, +)
                if series.isEmpty {
                    result.failure = "no series selected by \(definition.selector)"
                    result.empty = true
                } else if values.isEmpty {
                    result.failure = "\(series.count) series selected by \(definition.selector), but none has samples in the last "
                        + "\(GoDuration.format(definition.window)) and a pod label (exported_pod, pod or pod_name)"
                    result.empty = true
                } else if !total.isFinite {
                    result.failure = "the values selected by \(definition.selector) add up to \(total); an exporter reports an infinite value"
                } else {
                    result.value = total
                    result.replicas = values.count
                }
            }
            return result
        }
    }

    /// The batch for `POST /v1/metrics`.
    public static func batch(_ results: [Result], timestamp: Double, source: String) -> MetricBatch {
        var batch = MetricBatch(values: [])
        for result in results {
            if let value = result.value {
                batch.values.append(MetricValue(target: result.target, metric: result.metric, value: value, timestamp: timestamp, source: source))
            } else {
                batch.failures.append(MetricFailure(target: result.target, metric: result.metric, reason: result.failure ?? "no value",
                                                    empty: result.empty, timestamp: timestamp, source: source))
            }
        }
        return batch
    }
}
