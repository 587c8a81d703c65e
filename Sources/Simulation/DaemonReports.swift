import Autoscaling

/// How the autoscaler daemon hears about one second of a replayed service, shared by both replays
/// so they decide on exactly the inputs the daemon would get.
enum DaemonReports {
    /// Hands one second's reports to the scaler as the daemon receives them, and says why the daemon
    /// decides in this second (nil: it does not): "panic", "poke" or "tick" (every 2 s).
    /// - Parameter waiting: requests waiting in the activator when no replica is ready.
    static func deliver(_ stat: RequestStat, second: Int, waiting: Int, readyReplicas ready: Int,
                        to scaler: inout TargetScaler) -> String? {
        let now = Timestamp(seconds: Double(second))
        if ready > 0 {
            // Sent even when idle, as sidecars do, so the scaler never takes the replicas for silent.
            if scaler.record(stat, fromReplica: true, at: now, readyReplicas: ready) { return "panic" }
        } else if stat.requestCount > 0 || waiting > 0 {
            // No replica to serve them: the requests wait in the activator, which reports them and
            // pokes with the number waiting. With no replica ready a poke always decides, so whether
            // the report crossed the threshold adds nothing.
            _ = scaler.record(stat, fromReplica: false, at: now, readyReplicas: 0)
            if scaler.poke(queueLength: waiting, readyReplicas: 0, at: now) { return "poke" }
        }
        return second.isMultiple(of: 2) ? "tick" : nil
    }
}
