import Autoscaling

/// Renders a replay for people (an aligned timeline and a summary) or for tools (JSON lines).
public enum ReplayReport {
    /// A table with a row whenever demand, the decision, the replicas or the state changed, then the summary.
    public static func text(timeline: [ReplaySecond], summary: ReplaySummary, metric: MetricKind) -> String {
        var lines = [header(metric: metric)]
        var shown: ReplaySecond?
        for second in timeline where shown == nil || second.earlyTrigger != nil || differs(second, from: shown!) {
            lines.append(row(second))
            shown = second
        }
        lines.append("")
        lines.append(contentsOf: summaryLines(summary))
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object per second, then one with the summary.
    public static func jsonLines(timeline: [ReplaySecond], summary: ReplaySummary) -> String {
        var lines: [String] = []
        for second in timeline {
            var json = JSONLine()
            json.add("t", second.t)
            json.add("rps", second.rps)
            json.add("concurrency", second.concurrency)
            json.add("trigger", second.trigger)
            json.add("desired", second.decision?.desired)
            json.add("stable", second.decision?.stable)
            json.add("panic", second.decision?.panic)
            json.add("panicking", second.decision?.panicking ?? false)
            json.add("want", second.want)
            json.add("replicas", second.replicas)
            json.add("ready", second.ready)
            json.add("capacity", second.capacity)
            json.add("overCapacity", second.overCapacity)
            json.add("activator", second.activatorMode.rawValue)
            json.add("state", second.activity.description)
            json.add("reason", second.reason)
            lines.append(json.text)
        }
        var json = JSONLine()
        json.add("summary", true)
        json.add("seconds", summary.seconds)
        json.add("replicaSeconds", summary.replicaSeconds)
        json.add("readyReplicaSeconds", summary.readyReplicaSeconds)
        json.add("peakReplicas", summary.peakReplicas)
        json.add("secondsOverCapacity", summary.secondsOverCapacity)
        json.add("secondsWithoutReadyReplica", summary.secondsWithoutReadyReplica)
        json.add("decisions", summary.decisions)
        json.add("scaleChanges", summary.scaleChanges)
        lines.append(json.text)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether a row tells something new; the averages alone drift every tick and are not enough.
    private static func differs(_ a: ReplaySecond, from b: ReplaySecond) -> Bool {
        a.rps != b.rps || a.concurrency != b.concurrency || a.replicas != b.replicas || a.ready != b.ready
            || a.want != b.want || a.reason != b.reason
            || a.activity != b.activity || a.activatorMode != b.activatorMode || a.overCapacity != b.overCapacity
            || (a.decision != nil && (a.decision?.desired != b.decision?.desired || a.decision?.panicking != b.decision?.panicking))
    }

    static func summaryLines(_ summary: ReplaySummary) -> [String] {
        [
            "summary over \(summary.seconds) s:",
            "  replica-seconds          \(summary.replicaSeconds) (ready: \(summary.readyReplicaSeconds))",
            "  peak replicas            \(summary.peakReplicas)",
            "  seconds over capacity    \(summary.secondsOverCapacity)",
            "  seconds with no replica  \(summary.secondsWithoutReadyReplica) (requests buffered in the activator)",
            "  decisions                \(summary.decisions), scale changes \(summary.scaleChanges)",
        ]
    }

    private static func header(metric: MetricKind) -> String {
        pad("t", 5) + pad("rps", 9) + pad("conc", 8) + pad("stable", 10) + pad("panic", 10) + pad("desired", 8)
            + pad("replicas", 9) + pad("ready", 6) + "  " + "activator  state        note   (metric: \(metric))"
    }

    private static func row(_ s: ReplaySecond) -> String {
        let stable = s.decision.map { number($0.stable) } ?? "", panic = s.decision.map { number($0.panic) } ?? ""
        let desired = s.decision.map { String($0.desired) + ($0.panicking ? "!" : "") } ?? ""
        let note = [s.earlyTrigger, s.overCapacity ? "over capacity" : nil, s.reason]
            .compactMap { $0 }.joined(separator: "; ")
        return pad(String(s.t), 5) + pad(number(s.rps), 9) + pad(number(s.concurrency), 8) + pad(stable, 10)
            + pad(panic, 10) + pad(desired, 8) + pad(String(s.replicas), 9) + pad(String(s.ready), 6) + "  "
            + s.activatorMode.rawValue.padding(11) + s.activity.description.padding(13) + note
    }

    private static func number(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return JSONLine.format(rounded)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(1, width - count)) }
}

/// Renders a request-level replay of one policy.
public enum RequestReplayReport {
    public static func text(_ s: RequestReplaySummary) -> String {
        [
            "policy \(s.policy), \(s.requests) requests over \(s.seconds) s:",
            "  replica-seconds          \(PolicyComparison.number(s.replicaSeconds)) (peak \(s.peakReplicas) replicas, \(s.starts) started)",
            "  queued slot-seconds      \(PolicyComparison.number(s.queuedSlotSeconds)) (the sum of every request's wait for a slot)",
            "  wait                     p50 \(PolicyComparison.seconds(s.waitP50)), p99 \(PolicyComparison.seconds(s.waitP99)), max \(PolicyComparison.seconds(s.waitMax))",
            "  cold starts              \(s.coldStarts) request(s) waited for a replica to start",
        ].joined(separator: "\n") + "\n"
    }

    /// One JSON object per second (t, replicas counting starting ones, ready, ...), then the summary.
    public static func jsonLines(_ timeline: [RequestReplaySecond], _ s: RequestReplaySummary) -> String {
        var lines: [String] = []
        lines.reserveCapacity(timeline.count + 1)
        for second in timeline {
            var json = JSONLine()
            json.add("t", second.t)
            json.add("replicas", second.replicas)
            json.add("ready", second.ready)
            json.add("concurrency", (second.concurrency * 1000).rounded() / 1000)
            json.add("waiting", second.waiting)
            json.add("reason", second.reason)
            lines.append(json.text)
        }
        var json = JSONLine()
        json.add("summary", true)
        s.add(to: &json)
        lines.append(json.text)
        return lines.joined(separator: "\n") + "\n"
    }
}

extension RequestReplaySummary {
    /// The summary's fields, times to the millisecond: one line per policy in `--compare --json`,
    /// the closing line of a single replay's `--json`.
    func add(to json: inout JSONLine) {
        json.add("policy", policy)
        json.add("seconds", seconds)
        json.add("requests", requests)
        json.add("replicaSeconds", replicaSeconds)
        json.add("queuedSlotSeconds", (queuedSlotSeconds * 1000).rounded() / 1000)
        json.add("waitP50", (waitP50 * 1000).rounded() / 1000)
        json.add("waitP99", (waitP99 * 1000).rounded() / 1000)
        json.add("waitMax", (waitMax * 1000).rounded() / 1000)
        json.add("coldStarts", coldStarts)
        json.add("starts", starts)
        json.add("peakReplicas", peakReplicas)
    }
}
