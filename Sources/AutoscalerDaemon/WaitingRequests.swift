import Autoscaling

/// Requests waiting for one target in each activator, as each last said (a stat report every
/// second, or a poke the moment one arrives). Every activator replica holds its own queue, so the
/// target's is their sum; a count older than `freshness` no longer counts (that activator stopped
/// reporting: it drained, or it is gone).
struct WaitingRequests: Sendable {
    static let freshness: Duration = .seconds(2)

    private var bySource: [String: (count: Int, at: Timestamp)] = [:]

    /// A stat report: the activator's queue as it is.
    mutating func report(_ count: Int, from source: String, at now: Timestamp) {
        prune(at: now)
        bySource[source] = (count, now)
    }

    /// Activators come and go (a new pod name on every rollout): a stale count is dropped, not kept.
    private mutating func prune(at now: Timestamp) {
        bySource = bySource.filter { now - $0.value.at <= Self.freshness }
    }

    /// A poke, sent as a request arrives: it may race the report that already counted it, so it
    /// only ever raises a fresh count.
    mutating func poke(_ count: Int, from source: String, at now: Timestamp) {
        prune(at: now)
        let current = bySource[source]?.count ?? 0
        bySource[source] = (max(current, count), now)
    }

    /// The sum over activators whose count is fresh.
    func total(at now: Timestamp) -> Int {
        bySource.values.reduce(0) { sum, entry in now - entry.at <= Self.freshness ? sum + entry.count : sum }
    }
}
