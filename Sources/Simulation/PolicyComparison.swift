import ChartImage
import Autoscaling
import ScalingPolicy

/// `thaw simulate --replay REQUESTS.csv --compare`: the same requests through Thaw's policy,
/// Knative's KPA (the exact decider), a model of the HPA and the clairvoyant bound, side by side.
public struct PolicyComparison {
    public struct Row: Sendable, Equatable {
        public var summary: RequestReplaySummary
        /// Replicas that exist each second, for the plot.
        public var replicas: [Int]
    }

    public var rows: [Row]
    /// Replicas the requests in flight need each second (the clairvoyant's need), for the plot.
    public var demand: [Int]
    public var options: RequestReplayOptions

    /// Runs every policy on `log`. The HPA is left out when the policy may scale to zero (it cannot).
    public init(log: RequestLog, policy: TargetPolicy, options: RequestReplayOptions) {
        self.options = options
        let replay = RequestReplay(log: log, options: options)
        var thawPolicy = policy, kpaPolicy = policy
        thawPolicy.updateDecider { $0.policy = .thaw }
        kpaPolicy.updateDecider { $0.policy = .kpa }
        var rows: [Row] = []
        for (name, resolved) in [("thaw", thawPolicy), ("kpa", kpaPolicy)] {
            var controller = DaemonController(name: name, policy: resolved, initialReplicas: options.initialReplicas)
            let result = replay.run(&controller)
            rows.append(Row(summary: result.summary, replicas: result.timeline.map(\.replicas)))
        }
        let minReplicas = policy.replicas.minScale
        if minReplicas >= 1 {
            var hpa = HPAModel(target: policy.decider.targetValue, minReplicas: minReplicas, maxReplicas: policy.replicas.maxScale)
            let result = replay.run(&hpa)
            rows.append(Row(summary: result.summary, replicas: result.timeline.map(\.replicas)))
        }
        let seconds = rows.map(\.replicas.count).max() ?? 0
        let bound = ClairvoyantBound.run(log, slots: options.slots, loadTime: options.loadTime,
                                         initialReplicas: options.initialReplicas, minReplicas: minReplicas, seconds: seconds)
        rows.append(Row(summary: RequestReplaySummary(
            policy: "clairvoyant", seconds: seconds, requests: log.requests.count, replicaSeconds: bound.replicaSeconds,
            queuedSlotSeconds: 0, waitP50: 0, waitP99: 0, waitMax: 0, coldStarts: 0, starts: bound.starts,
            peakReplicas: bound.perSecond.max() ?? 0), replicas: bound.perSecond))
        self.rows = rows
        demand = ClairvoyantBound.needed(log, slots: options.slots, seconds: seconds)
    }

    public func row(_ policy: String) -> RequestReplaySummary? { rows.first { $0.summary.policy == policy }?.summary }

    /// The table, then Thaw's policy against the KPA as ratios.
    public var text: String {
        var lines = [
            "policy        replica-s  queued slot-s  wait p50  wait p99  wait max  cold starts  starts  peak",
        ]
        for row in rows {
            let s = row.summary
            lines.append(s.policy.padding(12) + Self.column(Self.number(s.replicaSeconds), 11) + Self.column(Self.number(s.queuedSlotSeconds), 15)
                + Self.column(Self.seconds(s.waitP50), 10) + Self.column(Self.seconds(s.waitP99), 10) + Self.column(Self.seconds(s.waitMax), 10)
                + Self.column(String(s.coldStarts), 13) + Self.column(String(s.starts), 8) + Self.column(String(s.peakReplicas), 6))
        }
        if let thaw = row("thaw"), let kpa = row("kpa") {
            lines.append("")
            lines.append("thaw / kpa: replica-s \(Self.ratio(thaw.replicaSeconds, kpa.replicaSeconds)), queued slot-s "
                + "\(Self.ratio(thaw.queuedSlotSeconds, kpa.queuedSlotSeconds)), cold starts \(Self.ratio(Double(thaw.coldStarts), Double(kpa.coldStarts)))")
        }
        let first = rows.first?.summary
        lines.append("(\(first?.requests ?? 0) requests over \(first?.seconds ?? 0) s; \(options.slots) slots a replica, load time \(Self.seconds(options.loadTime)), \(options.initialReplicas) replica(s) at the start)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object per policy.
    public var jsonLines: String {
        rows.map { row in
            var json = JSONLine()
            row.summary.add(to: &json)
            return json.text
        }.joined(separator: "\n") + "\n"
    }

    /// The plot: one panel per policy, replicas over the demand in replicas.
    public func plot(title: String) -> PlotImage {
        PlotImage.panels(title: title, demand: demand, series: rows.map { (row: Row) in (row.summary.policy, row.replicas) })
    }

    static func ratio(_ a: Double, _ b: Double) -> String {
        if b == 0 { return a == 0 ? "equal (both 0)" : "\(number(a)) vs 0" }
        return JSONLine.format((a / b * 100).rounded() / 100) + "x"
    }

    static func number(_ value: Double) -> String { JSONLine.format(value.rounded()) }

    static func seconds(_ value: Double) -> String { JSONLine.format((value * 10).rounded() / 10) + "s" }

    static func column(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - text.count)) + text
    }
}
