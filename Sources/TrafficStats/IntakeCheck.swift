/// What the autoscaler accepts from a reporter, checked before anything is recorded: a report
/// with a negative or absurd value is a reporter's bug or an attack, and recorded it would steer
/// scaling (`averageConcurrency: -1e9` once scaled a loaded target from 3 replicas to 1). Each
/// problem names the field as `stats[2].averageConcurrency` so the sender can find it.
public enum IntakeCheck {
    /// Reports or values in one batch; a reporter sends one per target per second.
    public static let maxBatch = 100_000
    /// Target and source names (a Kubernetes name is at most 253 characters, plus a namespace).
    public static let maxNameLength = 512
    /// A collector failure's reason, as kept and shown in `/status`.
    public static let maxReasonLength = 1_024
    /// Concurrency or requests per second per report: more than any replica set serves.
    public static let maxRate = 1e9
    public static let maxQueueLength = 100_000_000
    /// How far a report's timestamp may be from the autoscaler's clock: a report older than that
    /// is outside every window anyway, and one from the future would be counted in buckets that
    /// do not exist yet. More means the two machines' clocks disagree.
    public static let maxClockSkew = 300.0

    static func name(_ value: String, _ field: String) -> String? {
        if value.isEmpty { return "\(field): must not be empty" }
        if value.utf8.count > maxNameLength { return "\(field): at most \(maxNameLength) bytes, got \(value.utf8.count)" }
        return nil
    }

    static func amount(_ value: Double, _ field: String, max: Double = maxRate) -> String? {
        guard value.isFinite, value >= 0, value <= max else {
            return "\(field): must be a number from 0 to \(Int(max)), got \(value)"
        }
        return nil
    }

    static func time(_ value: Double, _ field: String, now: Double) -> String? {
        guard value.isFinite else { return "\(field): must be a finite Unix time in seconds, got \(value)" }
        guard abs(value - now) <= maxClockSkew else {
            let offset = value - now
            // 1e20 is finite, and too large for an Int.
            let seconds = abs(offset) < 1e15 ? String(Int(abs(offset).rounded())) : "\(abs(offset))"
            return "\(field): \(value) is \(seconds) s \(offset < 0 ? "behind" : "ahead of") this autoscaler's clock (\(now.rounded())); reports must be stamped within \(Int(maxClockSkew)) s of it (are the clocks synchronized?)"
        }
        return nil
    }

    static func count(_ value: Int, _ field: String) -> String? {
        (0...maxQueueLength).contains(value) ? nil : "\(field): must be from 0 to \(maxQueueLength), got \(value)"
    }

    static func batch(_ count: Int, _ field: String) -> String? {
        count <= maxBatch ? nil : "\(field): at most \(maxBatch) entries in one batch, got \(count)"
    }
}

extension StatBatch {
    /// The first thing wrong with the batch, naming the field; nil when every report may be recorded.
    /// - Parameter now: the autoscaler's clock, in Unix seconds.
    public func problem(now: Double) -> String? {
        if let problem = IntakeCheck.batch(stats.count, "stats") { return problem }
        for (index, stat) in stats.enumerated() {
            let at = "stats[\(index)]."
            let problem = IntakeCheck.name(stat.target, at + "target") ?? IntakeCheck.name(stat.source, at + "source")
                ?? IntakeCheck.time(stat.timestamp, at + "timestamp", now: now)
                ?? IntakeCheck.amount(stat.averageConcurrency, at + "averageConcurrency")
                ?? IntakeCheck.amount(stat.requestCount, at + "requestCount")
                ?? IntakeCheck.count(stat.queueLength, at + "queueLength")
                ?? IntakeCheck.amount(stat.averageProxiedConcurrency, at + "averageProxiedConcurrency")
                ?? IntakeCheck.amount(stat.proxiedRequestCount, at + "proxiedRequestCount")
            if let problem { return problem }
        }
        return nil
    }
}

extension Poke {
    public var problem: String? {
        IntakeCheck.name(target, "target") ?? IntakeCheck.name(source, "source") ?? IntakeCheck.count(queueLength, "queueLength")
    }
}

extension MetricBatch {
    /// - Parameter now: the autoscaler's clock, in Unix seconds.
    public func problem(now: Double) -> String? {
        if let problem = IntakeCheck.batch(values.count, "values") ?? IntakeCheck.batch(failures.count, "failures") { return problem }
        for (index, value) in values.enumerated() {
            let at = "values[\(index)]."
            // GPU utilization is a percent per replica, summed over the target's replicas.
            let problem = IntakeCheck.name(value.target, at + "target") ?? IntakeCheck.name(value.metric, at + "metric")
                ?? IntakeCheck.name(value.source, at + "source") ?? IntakeCheck.time(value.timestamp, at + "timestamp", now: now)
                ?? IntakeCheck.amount(value.value, at + "value")
            if let problem { return problem }
        }
        for (index, failure) in failures.enumerated() {
            let at = "failures[\(index)]."
            let problem = IntakeCheck.name(failure.target, at + "target") ?? IntakeCheck.name(failure.metric, at + "metric")
                ?? IntakeCheck.name(failure.source, at + "source") ?? IntakeCheck.time(failure.timestamp, at + "timestamp", now: now)
                ?? (failure.reason.utf8.count <= IntakeCheck.maxReasonLength ? nil
                    : "\(at)reason: at most \(IntakeCheck.maxReasonLength) bytes, got \(failure.reason.utf8.count)")
            if let problem { return problem }
        }
        return nil
    }
}
