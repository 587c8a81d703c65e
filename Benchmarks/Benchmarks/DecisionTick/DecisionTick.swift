import Autoscaling
import Benchmark
import Foundation

// One iteration is one autoscaler tick: a decision for every one of `targetCount` scale targets, each
// with its own aggregator whose 60 s stable window and 6 s panic window are full, and its own decider.
// Building the fleet happens in the `setup:` closure, outside the measured part.
//
// Metrics: the tick's wall clock and throughput (ticks per second) per iteration; the custom metric
// "ns per decision" is the same tick timed with ContinuousClock and divided by the number of targets,
// so the per-decision cost reads directly (the library's scaling factors are fixed powers of 1,000,
// which cannot express 10,000 decisions per iteration). CPU time is left out: on Linux it is sampled
// at 10 ms resolution, coarser than one tick.

let targetCount = 10_000

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal, nsPerDecision],
        timeUnits: .microseconds,
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 2_000)

    Benchmark("DecisionTick", configuration: configuration) { benchmark, fleet in
        fleet.runTick(benchmark)
    } setup: {
        makeFleet(.linear)
    }

    Benchmark("DecisionTickWeighted", configuration: configuration) { benchmark, fleet in
        fleet.runTick(benchmark)
    } setup: {
        makeFleet(.weightedExponential)
    }
}

/// Builds the fleet (same seed, so both benchmarks see the same traffic) and checks that every target decides.
func makeFleet(_ aggregation: AggregationAlgorithm) -> FleetBox {
    let fleet = Fleet(targets: targetCount, aggregation: aggregation, seed: 0x5EED_0001)
    let (decided, panicking) = fleet.check()
    precondition(decided == targetCount, "only \(decided) of \(targetCount) targets had data to decide on")
    if getenv("BENCHMARK_FLEET_SUMMARY") != nil {
        print("\(aggregation): \(decided) targets decided, \(panicking) panicking")
    }
    return FleetBox(fleet)
}

let nsPerDecision = BenchmarkMetric.custom("ns per decision", polarity: .prefersSmaller, useScalingFactor: false)

/// Holds the fleet across iterations (the deciders are mutated by every tick).
final class FleetBox: @unchecked Sendable {
    var fleet: Fleet

    init(_ fleet: Fleet) { self.fleet = fleet }

    func runTick(_ benchmark: Benchmark) {
        let clock = ContinuousClock()
        let start = clock.now
        let desiredTotal = fleet.tick()
        let elapsed = clock.now - start
        blackHole(desiredTotal)
        let (seconds, attoseconds) = elapsed.components
        let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        benchmark.measurement(nsPerDecision, Int((nanoseconds / Double(fleet.count)).rounded()))
    }
}

/// Every target's aggregator, decider and ready count, and the moment of the tick.
struct Fleet {
    let metrics: [MetricAggregator]
    var deciders: [Decider]
    let readyReplicas: [Int]
    let now: Timestamp

    var count: Int { deciders.count }

    /// Builds `targets` targets with deterministic, varied traffic: 90 one-second stats per target, so
    /// both windows are full and their rings have wrapped, then a tick half a second after the last stat.
    init(targets: Int, aggregation: AggregationAlgorithm, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let start = Timestamp(seconds: 1_760_000_000)
        let seconds = 90
        let now = start + .seconds(seconds - 1) + .milliseconds(500)

        var metrics: [MetricAggregator] = []
        var deciders: [Decider] = []
        var readyReplicas: [Int] = []
        metrics.reserveCapacity(targets)
        deciders.reserveCapacity(targets)
        readyReplicas.reserveCapacity(targets)

        for _ in 0..<targets {
            let spec = DeciderSpec(aggregation: aggregation)
            var aggregator = MetricAggregator(spec: spec)
            // Base concurrency from about 0.5 to 2,000, spread over orders of magnitude like real fleets.
            let base = 0.5 * pow(2, rng.nextDouble() * 12)
            // Some targets ramp up towards the end (so the panic window differs from the stable one).
            let ramp = rng.nextDouble() < 0.2 ? 1 + 3 * rng.nextDouble() : 1
            for second in 0..<seconds {
                let progress = Double(second) / Double(seconds - 1)
                let level = base * (1 + (ramp - 1) * progress * progress)
                let concurrency = level * (0.6 + 0.8 * rng.nextDouble())
                let stat = RequestStat(
                    averageConcurrency: concurrency,
                    requestCount: concurrency * (5 + 20 * rng.nextDouble()))
                aggregator.record(stat, at: start + .seconds(second))
            }
            // Ready replicas near what the base load needs, off by up to a factor of two either way.
            let needed = max(1, Int((base / spec.targetValue).rounded(.up)))
            let ready = max(1, Int(Double(needed) * (0.5 + 1.5 * rng.nextDouble())))
            metrics.append(aggregator)
            deciders.append(Decider(spec: spec, readyReplicas: ready, now: start))
            readyReplicas.append(ready)
        }
        self.metrics = metrics
        self.deciders = deciders
        self.readyReplicas = readyReplicas
        self.now = now
    }

    /// Runs one tick on a copy of the deciders and counts the targets that got a decision and those
    /// in panic mode; setup uses it to check that every window really has data.
    func check() -> (decided: Int, panicking: Int) {
        var deciders = self.deciders
        var decided = 0, panicking = 0
        for index in deciders.indices {
            if let decision = deciders[index].decide(
                readyReplicas: readyReplicas[index], metrics: metrics[index], now: now)
            {
                decided += 1
                if decision.panicking { panicking += 1 }
            }
        }
        return (decided, panicking)
    }

    /// One tick: a decision for every target. Returns the sum of the desired replicas.
    mutating func tick() -> Int {
        var desiredTotal = 0
        for index in deciders.indices {
            if let decision = deciders[index].decide(
                readyReplicas: readyReplicas[index], metrics: metrics[index], now: now)
            {
                desiredTotal &+= decision.desired
            }
        }
        return desiredTotal
    }
}

/// SplitMix64: a tiny, seeded, deterministic generator for the traffic data.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in [0, 1).
    mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}
