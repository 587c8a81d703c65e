/// Measures the time-weighted average number of requests in flight, period by period.
///
/// Counting requests at the instant of a report would miss short bursts entirely; Knative's
/// queue-proxy and activator integrate concurrency over time instead, and so do we. Time is passed
/// in (seconds as `Double`, any origin), so the meter is a pure value and every rule is a unit test.
public struct ConcurrencyMeter: Sendable {
    /// Requests in flight right now.
    public private(set) var current: Int = 0
    /// Requests in flight right now that came through the activator.
    public private(set) var currentProxied: Int = 0
    private var periodStart: Double
    private var lastChange: Double
    private var weighted: Double = 0
    private var weightedProxied: Double = 0
    private var arrivals: Int = 0
    private var proxiedArrivals: Int = 0

    public init(now: Double) {
        periodStart = now
        lastChange = now
    }

    /// What one period measured.
    public struct Period: Sendable, Equatable {
        public var averageConcurrency: Double
        public var requestCount: Int
        public var averageProxiedConcurrency: Double
        public var proxiedRequestCount: Int
        /// True when nothing arrived and nothing was in flight for the whole period.
        public var isIdle: Bool { requestCount == 0 && averageConcurrency == 0 }
    }

    private mutating func advance(to now: Double) {
        let elapsed = max(0, now - lastChange)
        weighted += Double(current) * elapsed
        weightedProxied += Double(currentProxied) * elapsed
        lastChange = max(lastChange, now)
    }

    /// A request arrived.
    public mutating func started(proxied: Bool = false, at now: Double) {
        advance(to: now)
        current += 1
        arrivals += 1
        if proxied {
            currentProxied += 1
            proxiedArrivals += 1
        }
    }

    /// A request finished (answered, failed or dropped).
    public mutating func finished(proxied: Bool = false, at now: Double) {
        advance(to: now)
        current = max(0, current - 1)
        if proxied { currentProxied = max(0, currentProxied - 1) }
    }

    /// Closes the period ending at `now` and starts the next one.
    public mutating func report(at now: Double) -> Period {
        advance(to: now)
        let length = now - periodStart
        let period = Period(
            averageConcurrency: length > 0 ? weighted / length : Double(current),
            requestCount: arrivals,
            averageProxiedConcurrency: length > 0 ? weightedProxied / length : Double(currentProxied),
            proxiedRequestCount: proxiedArrivals)
        periodStart = now
        weighted = 0
        weightedProxied = 0
        arrivals = 0
        proxiedArrivals = 0
        return period
    }
}
