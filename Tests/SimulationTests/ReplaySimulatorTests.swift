import Autoscaling
import Testing
@testable import Simulation

@Suite struct ReplaySimulatorTests {
    private let scaleToZeroPolicy = """
        annotations:
          autoscaling.thaw.dev/policy: kpa
          autoscaling.knative.dev/metric: rps
          autoscaling.knative.dev/target: "10"
          autoscaling.knative.dev/target-utilization-percentage: "100"
          autoscaling.knative.dev/min-scale: "0"
          autoscaling.knative.dev/window: 10s
          autoscaling.thaw.dev/scale-to-zero-grace-period: 4s
        """

    private func replay(_ csv: String, policy: String, configure: (inout ReplayOptions) -> Void = { _ in })
        throws -> (timeline: [ReplaySecond], summary: ReplaySummary) {
        var options = ReplayOptions()
        configure(&options)
        return try ReplaySimulator(policy: try SimulationPolicy(text: policy), options: options)
            .run(try DemandTrace(csv: csv))
    }

    @Test func scalesFromZeroOnAPokeAndBecomesReadyAfterTheStartDelay() throws {
        // Starts with no replica; demand arrives at t=3 (an odd second, so only a poke can decide then).
        let csv = "t,rps\n0,0\n1,0\n2,0\n3,20\n4,20\n5,20\n6,20\n7,20\n8,20\n9,20\n10,20"
        let (timeline, summary) = try replay(csv, policy: scaleToZeroPolicy) {
            $0.initialReplicas = 0
            $0.startDelay = .seconds(4)
        }
        // The requests waiting in the activator at t=3 poke, and the daemon decides at once: the
        // activator's 20 rps plus the 2 waiting requests the poke counts, ceil(22 / 10) = 3 replicas,
        // ready at t=7.
        #expect(timeline[3].trigger == "poke")
        #expect(timeline[3].decision?.desired == 3)
        #expect(timeline[3].replicas == 3)
        #expect(timeline[6].ready == 0)
        #expect(timeline[7].ready == 3)
        #expect(summary.secondsWithoutReadyReplica == 4, "t=3...6 had demand and no ready replica")
    }

    @Test func scalesToZeroAfterAQuietStableWindowAndGracePeriodThenPokes() throws {
        var rows = ["t,rps"]
        for t in 0..<60 { rows.append("\(t),\(t < 6 ? 5 : (t == 45 ? 5 : 0))") }
        let (timeline, summary) = try replay(rows.joined(separator: "\n"), policy: scaleToZeroPolicy) {
            $0.initialReplicas = 1
            $0.startDelay = .seconds(2)
        }
        let zeroAt = try #require(timeline.first { $0.replicas == 0 }?.t)
        // Demand stops after t=5; the 10 s stable window holds data until t=15, so the decision
        // reaches 0 at t=16; the target is then marked inactive and, with the activator already in
        // the path for longer than the 4 s grace period, scaled to zero on the next step: the tick
        // at t=18, as nothing asks the daemon to decide in between.
        #expect(zeroAt == 18)
        #expect(timeline[zeroAt - 1].activity == .inactive(.noTraffic))
        // The burst at t=45 (odd second) pokes an immediate decision instead of waiting for t=46.
        #expect(timeline[45].trigger == "poke")
        #expect(timeline[45].decision?.desired == 1)
        #expect(timeline[45].replicas == 1)
        #expect(timeline[47].ready == 1)
        #expect(summary.peakReplicas == 1)
        #expect(summary.secondsWithoutReadyReplica == 1)
    }

    @Test func aBurstThatCrossesThePanicThresholdIsDecidedAtOnceNotAtTheNextTick() throws {
        let policy = """
            annotations:
              autoscaling.thaw.dev/policy: kpa
              autoscaling.knative.dev/metric: rps
              autoscaling.knative.dev/target: "10"
              autoscaling.knative.dev/target-utilization-percentage: "100"
              autoscaling.knative.dev/window: 10s
            """
        // One replica serves 5 rps; at t=3 (an odd second, between ticks) 50 rps arrive.
        let csv = "t,rps\n0,5\n1,5\n2,5\n3,50\n4,50\n5,50\n6,50\n7,50\n8,50"
        let (timeline, summary) = try replay(csv, policy: policy) {
            $0.initialReplicas = 1
            $0.startDelay = .seconds(4)
        }
        #expect(timeline[1].trigger == nil, "a calm odd second waits for the tick")
        // The replica's report at t=3 puts the 2 s panic window at (5 + 50) / 2 = 27.5 rps, ceil(27.5 / 10)
        // = 3 replicas' worth against 1 ready: past the threshold of 2, so the daemon decides on the
        // report, not at t=4.
        #expect(timeline[3].trigger == "panic")
        #expect(timeline[3].decision?.panicking == true)
        #expect(timeline[3].decision?.desired == 3)
        #expect(timeline[3].replicas == 3, "the two new replicas are asked for at t=3")
        #expect(timeline[6].ready == 1)
        #expect(timeline[7].ready == 3, "ready after the 4 s start delay, a second before a tick-only loop would have them")
        // Once panicking, further reports over the threshold wait for the tick.
        #expect(timeline[4].trigger == "tick")
        #expect(timeline[5].trigger == nil)
        let report = ReplayReport.text(timeline: timeline, summary: summary, metric: .rps)
        #expect(report.split(separator: "\n").contains { $0.hasPrefix("    3 ") && $0.contains("panic; ") })
    }

    @Test func minScaleKeepsReplicasAndMaxScaleCapsThem() throws {
        let policy = """
            annotations:
              autoscaling.thaw.dev/policy: kpa
              autoscaling.knative.dev/metric: concurrency
              autoscaling.knative.dev/target: "1"
              autoscaling.knative.dev/target-utilization-percentage: "100"
              autoscaling.knative.dev/min-scale: "2"
              autoscaling.knative.dev/max-scale: "5"
            """
        let csv = "concurrency\n" + Array(repeating: "50", count: 10).joined(separator: "\n") + "\n"
            + Array(repeating: "0", count: 200).joined(separator: "\n")
        let (timeline, summary) = try replay(csv, policy: policy) { $0.initialReplicas = 2 }
        #expect(summary.peakReplicas == 5)
        #expect(timeline.allSatisfy { $0.replicas >= 2 })
        #expect(timeline.last?.replicas == 2)
        #expect(timeline[0].want == 5, "50 concurrent requests want 50 replicas, capped at max-scale 5")
    }

    @Test func capacityAndCostAreCounted() throws {
        let policy = "spec: {targetValue: 10, totalValue: 10, metric: rps, stableWindow: 6, panicWindow: 6}"
        let (timeline, summary) = try replay("t,rps\n0,25\n1,25", policy: policy) {
            $0.initialReplicas = 1
            $0.startDelay = .seconds(5)
        }
        #expect(timeline.map(\.capacity) == [10, 10])
        #expect(summary.secondsOverCapacity == 2)
        #expect(summary.replicaSeconds == 6, "3 replicas (1 ready, 2 starting) for 2 seconds")
        #expect(summary.readyReplicaSeconds == 2)
        #expect(summary.seconds == 2)
    }

    @Test func enormousScaleUpsCostNoMemoryPerReplica() throws {
        let policy = "spec: {targetValue: 1, totalValue: 1, metric: rps, stableWindow: 6, panicWindow: 6}"
        let (timeline, summary) = try replay("t,rps\n0,1e12\n1,1e12\n2,1e12\n3,1e12", policy: policy) {
            $0.initialReplicas = 1
            $0.startDelay = .seconds(1)
        }
        // Up-rate 1000 against 1 ready replica, then against 1000 ready ones.
        #expect(timeline[0].replicas == 1000)
        #expect(timeline[2].replicas == 1_000_000)
        #expect(summary.peakReplicas == 1_000_000)
    }

    @Test func secondsWithoutDataDecideNothingAndCountNoDecision() throws {
        let kpa = "annotations: {autoscaling.thaw.dev/policy: kpa}"
        let (timeline, summary) = try replay("t,rps\n0,0\n1,0\n2,0", policy: kpa) { $0.initialReplicas = 0 }
        #expect(timeline.allSatisfy { $0.decision == nil })
        #expect(summary.decisions == 0)
        // Thaw's policy decides at zero too, on zero demand (so it can pre-warm): it wants nothing,
        // and the default min-scale of 1 then holds from the first decision on.
        let (thaw, thawSummary) = try replay("t,rps\n0,0\n1,0\n2,0", policy: "") { $0.initialReplicas = 0 }
        #expect(thaw.allSatisfy { $0.decision == nil || $0.decision?.desired == 0 })
        #expect(thawSummary.decisions == 2)
        #expect(thaw.map(\.replicas) == [1, 1, 1])
    }

    @Test func rpsAndConcurrencyConvertThroughLatency() throws {
        let (timeline, _) = try replay("rps\n40", policy: "") { $0.requestLatency = 0.25 }
        #expect(timeline[0].rps == 40)
        #expect(timeline[0].concurrency == 10)
        let (fromConcurrency, _) = try replay("concurrency\n10", policy: "") { $0.requestLatency = 0.5 }
        #expect(fromConcurrency[0].rps == 20)
    }

    @Test func jsonOutputHasOneLinePerSecondAndASummary() throws {
        let (timeline, summary) = try replay("t,rps\n0,1\n1,1\n2,1", policy: "")
        let lines = ReplayReport.jsonLines(timeline: timeline, summary: summary).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix(#"{"t":0,"rps":1,"concurrency":0.1,"trigger":"tick","desired":1,"#))
        #expect(lines[3].hasPrefix(#"{"summary":true,"seconds":3,"#))
    }

    @Test(arguments: [
        ("", "is empty"),
        ("t,rps", "has a header but no rows"),
        ("t,cpu\n0,1", "must be named rps or concurrency"),
        ("x,rps\n0,1", "must be the time"),
        ("t,rps,extra\n0,1,2", "one or two columns"),
        ("t,rps\n0,1\n0,2", "greater than the previous row"),
        ("t,rps\n0,-1", "must be a number of at least 0"),
        ("t,rps\n0", "expected 2 columns"),
        ("rps\nabc", "must be a number of at least 0"),
    ])
    func badDemandFilesNameTheLine(csv: String, message: String) throws {
        let error = try #require(throws: SimulationError.self) { try DemandTrace(csv: csv, file: "d.csv") }
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func missingSecondsHaveNoDemand() throws {
        let trace = try DemandTrace(csv: "# comment\nt,rps\n0,5\n3,7\n")
        #expect(trace.perSecond == [5, 0, 0, 7])
        #expect(trace.signal == .rps)
    }
}
