/// Where a LIST then WATCH of one collection stands, and what to do next: list, watch from a
/// version, or wait before trying again.
///
/// Kubernetes' rules, kept here apart from any socket so each is a unit test: a watch resumes from
/// the newest version it saw (an event's or a bookmark's), also after the server ends it on its
/// timeout; 410 Gone means the version was compacted away, so the collection is listed again; any
/// other failure waits, longer each time up to a cap and with jitter (so many watchers do not
/// return together), and the next success starts the count again.
public struct ListWatchCursor: Sendable {
    public enum Action: Equatable, Sendable {
        case list
        case watch(from: String)
        case wait(Duration)
    }

    /// The newest version seen; nil until the first list, and again after a 410.
    public private(set) var resourceVersion: String?
    /// Failures in a row since the last success.
    public private(set) var failures = 0
    public let firstBackoff: Duration
    public let maxBackoff: Duration
    /// A fraction in 0..<1 per wait: how much of the backoff to add on top (0 in tests).
    private let jitter: @Sendable () -> Double

    public init(firstBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30),
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        self.jitter = jitter
    }

    /// What to do now: list first, then watch from the newest version.
    public var resume: Action { resourceVersion.map { .watch(from: $0) } ?? .list }

    /// A list succeeded: its version is where the watch starts.
    public mutating func listed(resourceVersion version: String) -> Action {
        resourceVersion = version
        failures = 0
        return resume
    }

    /// An event (or a bookmark) of the watch: a reconnect resumes after it.
    public mutating func saw(resourceVersion version: String) {
        resourceVersion = version
        failures = 0
    }

    /// The server ended the watch without an error (its timeout): watch again from where it was.
    public mutating func watchEnded() -> Action { resume }

    /// A list or watch failed: `status` is the HTTP code (or the code of a watch's ERROR event),
    /// nil when there was no answer at all. `retryAfter` is what a 429 asked for.
    public mutating func failed(status: Int?, retryAfter: Duration? = nil) -> Action {
        if status == 410 {
            // The version is gone from the server's history: only a new list can say what is there.
            resourceVersion = nil
            return .list
        }
        if let retryAfter {
            // The server said when: a throttled client is not failing, and must not come back sooner.
            // A tenth of jitter still spreads the watchers it throttled together.
            return .wait(retryAfter + retryAfter * (min(max(jitter(), 0), 0.999) / 10))
        }
        failures += 1
        let exponent = min(failures - 1, 16)
        let backoff = min(maxBackoff, firstBackoff * (1 << exponent))
        return .wait(backoff + backoff * min(max(jitter(), 0), 0.999))
    }
}
