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

              --replay REQUESTS.csv a request log: a header naming an "arrival" (or "timestamp")
                                    column and a "service" (or "duration") column, in seconds;
                                    other columns are ignored. Each request holds one of a
                                    replica's --slots for its service time and waits in the
                                    activator's queue while every slot is taken. Prints what the
                                    policy cost and what requests waited (replica-seconds,
                                    queued slot-seconds, wait p50/p99/max, cold starts).
                                    --compare runs Thaw's policy, Knative's KPA, an HPA v2 model
                                    (when min-scale is at least 1) and the clairvoyant bound on
                                    the same requests; --plot FILE.png draws their replicas.

              --generate SCENARIO   writes a request log (CSV) of one of: bursty, diurnal, sparse,
                                    steady, from --seed, lasting --duration seconds.

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

    @Option(help: ArgumentHelp("Request replay: concurrent requests one replica serves (default: the policy's containerConcurrency, else 10).", valueName: "N"))
    var slots: Int?

    @Flag(help: "Request replay: run Thaw's policy, the KPA, an HPA model and the clairvoyant bound side by side.")
    var compare = false

    @Option(help: ArgumentHelp("Request replay with --compare: write a PNG of each policy's replicas over time.", valueName: "FILE.png"))
    var plot: String?

    @Option(help: ArgumentHelp("Write a generated request log to standard output.", valueName: "SCENARIO"))
    var generate: String?

    @Option(help: ArgumentHelp("--generate: the random seed.", valueName: "N"))
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("--generate: seconds of traffic.", valueName: "SECONDS"))
    var duration: Int = 3600

    func validate() throws {
        guard [trace, replay, generate].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --trace TRACE.jsonl, --replay DEMAND.csv (or REQUESTS.csv), or --generate SCENARIO")
        }
        if let generate, TraceGenerator.Scenario(rawValue: generate) == nil {
            throw ValidationError("--generate takes one of: " + TraceGenerator.Scenario.allCases.map(\.rawValue).joined(separator: ", ") + "; got \"\(generate)\"")
        }
        guard (1...1_000_000).contains(duration) else { throw ValidationError("--duration must be from 1 to 1000000 seconds") }
        guard (1...1000).contains(slots ?? 1) else { throw ValidationError("--slots must be from 1 to 1000") }
        if plot != nil, !compare { throw ValidationError("--plot draws the --compare run; add --compare") }
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
            } else if let generate, let scenario = TraceGenerator.Scenario(rawValue: generate) {
                print(TraceGenerator(scenario: scenario, seed: seed, seconds: duration).generate().csv, terminator: "")
            } else if let replay, try isRequestLog(replay) || compare {
                try replayRequests(replay, policy: policy)
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

    private func isRequestLog(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = String(decoding: try handle.read(upToCount: 4096) ?? Data(), as: UTF8.self)
        let header = head.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.allSatisfy { $0 == " " || $0 == "\r" } }
        return header.map { RequestLog.looksLikeRequestLog(header: String($0)) } ?? false
    }

    /// A request-level replay: one policy's summary, or every policy side by side.
    private func replayRequests(_ path: String, policy: SimulationPolicy) throws {
        let log = try isRequestLog(path) ? try RequestLog(contentsOf: path) : RequestLog(demand: try DemandTrace(contentsOf: path), latency: latency)
        guard !log.requests.isEmpty else { throw SimulationError(file: path, "holds no requests to replay") }
        var options = RequestReplayOptions()
        options.loadTime = startDelay
        options.slots = slots ?? (policy.containerConcurrency > 0 ? policy.containerConcurrency : 10)
        options.initialReplicas = initialReplicas ?? policy.target.replicas.minScale
        options.tailSeconds = tail > 0 ? tail : 120
        FileHandle.standardError.write(Data("thaw simulate: \(log.requests.count) requests over \(Int(log.span)) s\n".utf8))
        if compare {
            let comparison = PolicyComparison(log: log, policy: policy.target, options: options)
            print(json ? comparison.jsonLines : comparison.text, terminator: "")
            if let plot {
                let title = "\(URL(fileURLWithPath: path).lastPathComponent): load time \(Int(startDelay)) s, \(options.initialReplicas) at start"
                let bytes = comparison.plot(title: title).png
                guard FileManager.default.createFile(atPath: plot, contents: Data(bytes)) else {
                    throw SimulationError(file: plot, "could not be written")
                }
                FileHandle.standardError.write(Data("thaw simulate: wrote \(plot) (\(bytes.count) bytes)\n".utf8))
            }
            return
        }
        var controller = DaemonController(name: policy.target.decider.policy.rawValue, policy: policy.target, initialReplicas: options.initialReplicas)
        let result = RequestReplay(log: log, options: options).run(&controller)
        print(json ? RequestReplayReport.jsonLines(result.timeline, result.summary) : RequestReplayReport.text(result.summary), terminator: "")
    }
}
