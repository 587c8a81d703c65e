import ArgumentParser
import Foundation
import Simulation

/// `thaw simulate`: the decision core as a what-if tool.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace through Thaw's decision code and show what it would do.",
        discussion: """
            Two modes:

              --trace TRACE.jsonl   one JSON line per event: {"t":0,"event":"create","ready":1},
                                    {"t":1,"event":"stat","concurrency":3.5,"requests":7},
                                    {"t":2,"event":"decide","ready":5} (optionally with "stable" and "panic"),
                                    {"t":3,"event":"update","spec":{"reachable":false}}.
                                    Prints one JSON object per decide event:
                                    {"t":..,"desired":..,"excessBurstCapacity":..,"panicking":..,"stable":..,"panic":..}

              --replay DEMAND.csv   per-second demand for one service, with a header "t,rps" or
                                    "t,concurrency" (the t column is optional). Runs the autoscaler's
                                    own loop on simulated time (decisions every 2 s, at once on pokes
                                    and on reports that cross the panic threshold, bounds, scale to
                                    zero, replicas ready after --start-delay) and prints a timeline
                                    and a summary.

            POLICY (YAML or JSON) may hold `annotations:` (autoscaling.knative.dev/* and
            autoscaling.thaw.dev/* keys), `config:` (config-autoscaler keys), `containerConcurrency:`
            and `spec:` (decider fields that override the annotations: targetValue, totalValue,
            targetBurstCapacity, panicThreshold, maxScaleUpRate, maxScaleDownRate, stableWindow,
            panicWindow, scaleDownDelay, activationScale, initialScale, reachable, metric, aggregation).
            """
    )

    @Option(help: ArgumentHelp("Policy file (YAML or JSON); Thaw's defaults when omitted.", valueName: "POLICY"))
    var policy: String?

    @Option(help: ArgumentHelp("Decision trace to replay, JSON lines.", valueName: "TRACE.jsonl"))
    var trace: String?

    @Option(help: ArgumentHelp("Per-second demand to replay through the whole loop, CSV.", valueName: "DEMAND.csv"))
    var replay: String?

    @Option(help: ArgumentHelp("Replay: seconds a new replica takes to become ready.", valueName: "SECONDS"))
    var startDelay: Double = 10

    @Option(help: ArgumentHelp("Replay: seconds per request, to turn rps into concurrency and back.", valueName: "SECONDS"))
    var latency: Double = 0.1

    @Option(help: ArgumentHelp("Replay: ready replicas at t=0 (default: the policy's initial scale).", valueName: "N"))
    var initialReplicas: Int?

    @Option(help: ArgumentHelp("Replay: seconds without demand to add after the trace.", valueName: "SECONDS"))
    var tail: Int = 0

    @Flag(help: "Replay: print one JSON object per second and a summary object instead of the table.")
    var json = false

    func validate() throws {
        guard (trace == nil) != (replay == nil) else {
            throw ValidationError("give exactly one of --trace TRACE.jsonl or --replay DEMAND.csv")
        }
        guard (0...86_400).contains(startDelay) else { throw ValidationError("--start-delay must be from 0 to 86400 seconds") }
        guard (0.000_001...3_600).contains(latency) else {
            throw ValidationError("--latency must be from 0.000001 to 3600 seconds per request")
        }
        guard (0...1_000_000).contains(initialReplicas ?? 0) else {
            throw ValidationError("--initial-replicas must be from 0 to 1000000")
        }
        guard (0...1_000_000).contains(tail) else { throw ValidationError("--tail must be from 0 to 1000000 seconds") }
    }

    func run() throws {
        do {
            let policy = try policy.map { try SimulationPolicy(contentsOf: $0) } ?? SimulationPolicy(text: "")
            if let trace {
                let events = try TraceEvent.load(contentsOf: trace)
                let decisions = try TraceSimulator(policy: policy, file: trace).run(events)
                for decision in decisions { print(decision.jsonLine) }
            } else if let replay {
                var options = ReplayOptions()
                options.startDelay = .seconds(fractional: startDelay)
                options.requestLatency = latency
                options.initialReplicas = initialReplicas
                options.tailSeconds = tail
                let demand = try DemandTrace(contentsOf: replay)
                let result = try ReplaySimulator(policy: policy, options: options, file: self.policy ?? "the policy").run(demand)
                print(json ? ReplayReport.jsonLines(timeline: result.timeline, summary: result.summary)
                           : ReplayReport.text(timeline: result.timeline, summary: result.summary,
                                               metric: policy.target.decider.metric), terminator: "")
            }
        } catch let error as SimulationError {
            FileHandle.standardError.write(Data("thaw simulate: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
