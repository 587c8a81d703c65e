import Autoscaling

/// One decision taken during a trace, as `thaw simulate` prints it.
public struct TraceDecision: Sendable, Equatable {
    public var time: Timestamp
    /// Nil when the windows held no data to decide on (Knative skips such a decision).
    public var decision: ScaleDecision?

    public var jsonLine: String {
        var json = JSONLine()
        json.add("t", time.seconds)
        json.add("desired", decision?.desired)
        json.add("excessBurstCapacity", decision?.excessBurstCapacity)
        json.add("panicking", decision?.panicking ?? false)
        json.add("stable", decision?.stable)
        json.add("panic", decision?.panic)
        if decision == nil { json.add("error", "no data in the stable window; no decision taken") }
        return json.text
    }
}

/// Replays a trace of stats and decisions through the exact decision code the autoscaler runs.
public struct TraceSimulator {
    public let policy: SimulationPolicy
    public let file: String

    public init(policy: SimulationPolicy, file: String = "trace") {
        self.policy = policy
        self.file = file
    }

    /// Runs every event in order and returns one result per `decide` event.
    public func run(_ events: [TraceEvent]) throws -> [TraceDecision] {
        var spec = policy.target.decider
        var metrics = MetricAggregator(spec: spec)
        var decider: Decider?
        var results: [TraceDecision] = []
        for event in events {
            switch event.kind {
            case .create(let ready):
                guard decider == nil else {
                    throw SimulationError(file: file, line: event.line, "the decider was already created")
                }
                decider = Decider(spec: spec, readyReplicas: ready, now: event.time)
            case .stat(let stat):
                metrics.record(stat, at: event.time)
            case .decide(let ready, let averages):
                guard decider != nil else {
                    throw SimulationError(file: file, line: event.line, "decide before create; add a create event first")
                }
                let decision = averages.map { decider!.decide(readyReplicas: ready, averages: $0, now: event.time) }
                    ?? decider!.decide(readyReplicas: ready, metrics: metrics, now: event.time)
                results.append(TraceDecision(time: event.time, decision: decision))
            case .update(let override):
                guard override.aggregation == nil || override.aggregation == spec.aggregation else {
                    throw SimulationError(file: file, line: event.line,
                                          "field \"spec.aggregation\" cannot change during a trace; set it in the policy file")
                }
                override.apply(to: &spec)
                if spec.stableWindow != metrics.stableWindow || spec.panicWindow != metrics.panicWindow {
                    metrics.resize(stableWindow: spec.stableWindow, panicWindow: spec.panicWindow, at: event.time)
                }
                decider?.update(spec: spec)
            }
        }
        return results
    }
}
