import Autoscaling
import ScalingPolicy

/// Decider fields set directly, bypassing annotations: the `spec:` of a policy file and the
/// `spec` of an `update` event. Only the fields present are changed; each is range-checked when read.
public struct SpecOverride: Sendable, Equatable {
    static let fields = [
        "targetValue", "totalValue", "targetBurstCapacity", "panicThreshold", "maxScaleUpRate", "maxScaleDownRate",
        "stableWindow", "panicWindow", "scaleDownDelay", "activationScale", "initialScale", "reachable", "metric",
        "aggregation",
    ]

    var targetValue, totalValue, targetBurstCapacity, panicThreshold, maxScaleUpRate, maxScaleDownRate: Double?
    var stableWindow, panicWindow, scaleDownDelay: Duration?
    var activationScale, initialScale: Int?
    var reachable: Bool?
    var metric: MetricKind?
    var aggregation: AggregationAlgorithm?

    init(_ reader: FieldReader) throws {
        try reader.rejectUnknown(allowed: Self.fields)
        func greater(_ key: String, than lower: Double) throws -> Double? {
            guard let value = try reader.number(key) else { return nil }
            guard value > lower else {
                throw reader.error("field \"\(reader.path)\(key)\" must be greater than \(JSONLine.format(lower)), got \(JSONLine.format(value))")
            }
            return value
        }
        func seconds(_ key: String, from lower: Double) throws -> Duration? {
            guard let value = try reader.number(key) else { return nil }
            guard value >= lower, value.rounded() == value, value <= 86_400 else {
                throw reader.error("field \"\(reader.path)\(key)\" must be whole seconds from \(JSONLine.format(lower)) to 86400, got \(JSONLine.format(value))")
            }
            return .seconds(Int64(value))
        }
        targetValue = try greater("targetValue", than: 0)
        totalValue = try greater("totalValue", than: 0)
        targetBurstCapacity = try reader.number("targetBurstCapacity")
        if let v = targetBurstCapacity, v < 0, v != -1 {
            throw reader.error("field \"\(reader.path)targetBurstCapacity\" must be at least 0, or -1 for unlimited, got \(JSONLine.format(v))", at: "targetBurstCapacity")
        }
        panicThreshold = try greater("panicThreshold", than: 0)
        maxScaleUpRate = try greater("maxScaleUpRate", than: 1)
        maxScaleDownRate = try greater("maxScaleDownRate", than: 1)
        stableWindow = try seconds("stableWindow", from: 1)
        panicWindow = try seconds("panicWindow", from: 1)
        scaleDownDelay = try seconds("scaleDownDelay", from: 0)
        activationScale = try reader.count("activationScale")
        initialScale = try reader.count("initialScale")
        reachable = try reader.bool("reachable")
        if let name = try reader.string("metric") {
            guard AutoscalingAnnotations.supportedMetrics.contains(MetricKind(name)) else {
                throw reader.error("field \"\(reader.path)metric\" must be one of: "
                    + AutoscalingAnnotations.supportedMetrics.map(\.name).joined(separator: ", ") + ", got \"\(name)\"")
            }
            metric = MetricKind(name)
        }
        if let name = try reader.string("aggregation") {
            guard let algorithm = AggregationAlgorithm(rawValue: name) else {
                throw reader.error("field \"\(reader.path)aggregation\" must be linear or weighted-exponential, got \"\(name)\"", at: "aggregation")
            }
            aggregation = algorithm
        }
    }

    /// Applies the present fields to `spec`.
    func apply(to spec: inout DeciderSpec) {
        if let targetValue { spec.targetValue = targetValue }
        if let totalValue { spec.totalValue = totalValue }
        if let targetBurstCapacity { spec.targetBurstCapacity = targetBurstCapacity }
        if let panicThreshold { spec.panicThreshold = panicThreshold }
        if let maxScaleUpRate { spec.maxScaleUpRate = maxScaleUpRate }
        if let maxScaleDownRate { spec.maxScaleDownRate = maxScaleDownRate }
        if let stableWindow { spec.stableWindow = stableWindow }
        if let panicWindow { spec.panicWindow = panicWindow }
        if let scaleDownDelay { spec.scaleDownDelay = scaleDownDelay }
        if let activationScale { spec.activationScale = activationScale }
        if let initialScale { spec.initialScale = initialScale }
        if let reachable { spec.reachable = reachable }
        if let metric { spec.metric = metric }
        if let aggregation { spec.aggregation = aggregation }
    }
}
