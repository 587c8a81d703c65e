import Foundation

/// Request logs with the shapes inference traffic has, from a seed, so `make bench-scaling` is
/// repeatable and a policy can be tried on traffic it was not tuned on (another seed).
///
/// Arrivals are Poisson with a rate that follows the scenario; service times are log-normal, as
/// LLM generation times are (a median of 2.5 s with a long tail, capped at 60 s).
public struct TraceGenerator {
    public enum Scenario: String, Sendable, CaseIterable {
        /// Light traffic with bursts of 4-10 rps lasting 20-90 s, a few minutes apart (exponential gaps).
        case bursty
        /// A day compressed into the trace: a slow rise to a broad peak and back, with noise.
        case diurnal
        /// Small clusters of requests separated by heavy-tailed idle gaps (Pareto: mostly tens of
        /// seconds, sometimes many minutes): the traffic of a rarely used model.
        case sparse
        /// A steady high rate (15 rps) with Poisson noise.
        case steady

        public var summary: String {
            switch self {
            case .bursty: return "light traffic (1 rps) with bursts of 4-10 rps lasting 20-90 s, a few minutes apart"
            case .diurnal: return "a compressed day: a slow rise to a broad peak of about 12 rps and back"
            case .sparse: return "clusters of 1-6 requests between heavy-tailed idle gaps (Pareto, 30 s and up)"
            case .steady: return "a steady 15 rps with Poisson noise"
            }
        }
    }

    public var scenario: Scenario
    public var seed: UInt64
    public var seconds: Int

    public init(scenario: Scenario, seed: UInt64, seconds: Int = 3600) {
        self.scenario = scenario
        self.seed = seed
        self.seconds = seconds
    }

    public func generate() -> RequestLog {
        var random = SplitMix64(seed: seed &+ UInt64(Scenario.allCases.firstIndex(of: scenario)!) &* 0x9E37_79B9)
        var requests: [RequestLog.Request] = []
        func service() -> Double { min(60, 2.5 * exp(0.6 * random.normal())) }
        func poissonSecond(_ t: Int, rate: Double) {
            for _ in 0..<random.poisson(rate) {
                requests.append(.init(arrival: Double(t) + random.unit(), service: service()))
            }
        }
        switch scenario {
        case .bursty:
            var nextBurst = random.exponential(mean: 150) + 30
            var burstEnd = -1.0, burstRate = 0.0
            for t in 0..<seconds {
                let now = Double(t)
                if now >= nextBurst {
                    burstEnd = now + 20 + 70 * random.unit()
                    burstRate = 4 + 6 * random.unit()
                    nextBurst = burstEnd + random.exponential(mean: 150) + 30
                }
                poissonSecond(t, rate: now < burstEnd ? burstRate : 1)
            }
        case .diurnal:
            for t in 0..<seconds {
                let phase = Double(t) / Double(max(1, seconds))
                let rate = 0.5 + 11.5 * (1 - cos(2 * Double.pi * phase)) / 2 * (1 + 0.15 * sin(Double(t) / 37))
                poissonSecond(t, rate: rate)
            }
        case .sparse:
            var now = 5.0
            while now < Double(seconds) {
                let cluster = 1 + Int(random.unit() * 6)
                for _ in 0..<cluster {
                    requests.append(.init(arrival: now, service: service()))
                    now += random.exponential(mean: 1.5)
                }
                // Pareto idle gaps: minimum 30 s, shape 1.3 (heavy tail, a mean of about 2 minutes).
                now += 30 / pow(1 - random.unit(), 1 / 1.3)
            }
            requests.removeAll { $0.arrival >= Double(seconds) }
        case .steady:
            for t in 0..<seconds { poissonSecond(t, rate: 15) }
        }
        return RequestLog(requests: requests)
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64): the same seed gives the
/// same trace on every machine.
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

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }

    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u = max(unit(), 1e-12), v = unit()
        return sqrt(-2 * log(u)) * cos(2 * Double.pi * v)
    }

    /// Poisson: Knuth's product method for small means, a rounded normal for large ones.
    mutating func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 { return max(0, Int((mean + sqrt(mean) * normal()).rounded())) }
        let limit = exp(-mean)
        var count = 0
        var product = unit()
        while product > limit {
            count += 1
            product *= unit()
        }
        return count
    }
}
