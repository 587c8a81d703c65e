/// Measures the time-weighted average number of requests in flight, period by period.
///
/// Counting requests at the instant of a report would miss short bursts entirely; Knative's
/// queue-proxy and activator integrate concurrency over time instead, and so do we. Time is passed
/// in (seconds as `Double`, any origin), so the meter is a pure value and every rule is a unit test.
///
/// `started` and `finished` run twice per request: they are `@inlinable`, so the proxy compiles
/// them into its request path.
public struct ConcurrencyMeter: Sendable {
    /// Requests in flight right now.
    @inlinable public var current: Int { inFlight }
    /// Requests in flight right now that came through the activator.
    @inlinable public var currentProxied: Int { proxiedInFlight }
    @usableFromInline var inFlight = 0
    @usableFromInline var proxiedInFlight = 0
    @usableFromInline var periodStart: Double
    @usableFromInline var lastChange: Double
    @usableFromInline var weighted: Double = 0
    @usableFromInline var weightedProxied: Double = 0
    @usableFromInline var arrivals: Int = 0
    @usableFromInline var proxiedArrivals: Int = 0

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

    @inlinable
    mutating func advance(to now: Double) {
        let elapsed = max(0, now - lastChange)
        weighted += Double(inFlight) * elapsed
        weightedProxied += Double(proxiedInFlight) * elapsed
        lastChange = max(lastChange, now)
    }

    /// A request arrived.
    @inlinable
    public mutating func started(proxied: Bool = false, at now: Double) {
        advance(to: now)
        inFlight += 1
        arrivals += 1
        if proxied {
            proxiedInFlight += 1
            proxiedArrivals += 1
        }
    }

    /// A request finished (answered, failed or dropped).
    @inlinable
    public mutating func finished(proxied: Bool = false, at now: Double) {
        advance(to: now)
        inFlight = max(0, inFlight - 1)
        if proxied { proxiedInFlight = max(0, proxiedInFlight - 1) }
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
