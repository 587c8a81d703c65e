/// Where one local replica is in its life, and the signals each step of a stop sends.
///
/// A stop never cuts a request off, so it runs in order, each step only once the one before is
/// done: the replica leaves the published endpoints (the activator stops routing to it), then its
/// sidecar gets SIGTERM and drains, and only once the sidecar is gone does the model server get
/// SIGTERM. Every wait has a limit, after which the process group is killed. Pure: the supervisor
/// passes the time and what it reaped, and sends the signals this returns.
enum ReplicaPhase: Equatable, Sendable {
    /// Started; its readiness probe has not passed yet.
    case starting
    case ready
    /// Was ready; its periodic readiness probe has failed `failureThreshold` times in a row, so it
    /// is out of rotation but keeps running (readiness restarts nothing) until a probe passes.
    case notReady
    /// Taken out of the published endpoints at `since`; the sidecar is signalled once the routes
    /// have had a moment to change. `modelKilled` once the model server's group got SIGKILL.
    case unpublished(since: ContinuousClock.Instant, modelKilled: Bool = false)
    /// The sidecar got SIGTERM at `since` and finishes its requests; `killed` once it ran past the
    /// drain limit and got SIGKILL. `modelKilled` as above.
    case drainingSidecar(since: ContinuousClock.Instant, killed: Bool, modelKilled: Bool = false)
    /// The sidecar is gone and the model server got SIGTERM at `since`; `killed` once its group got
    /// SIGKILL (after the limit, or to clear what it left behind).
    case stoppingModel(since: ContinuousClock.Instant, killed: Bool)
    /// Crashed, or no time was left at shutdown: both process groups were killed, only reaping is left.
    case killed

    /// The replica's two processes.
    enum Member: Equatable, Sendable { case sidecar, model }

    enum Action: Equatable, Sendable {
        case terminate(Member)
        /// SIGKILL to the process group; `overdue` when the process ran past its limit (worth a warning).
        case kill(Member, overdue: Bool)
    }

    /// How long the routes get to drop an unpublished replica before its sidecar is signalled.
    static let unpublishDelay: Duration = .milliseconds(50)
    /// How long a model server may take to exit after SIGTERM.
    static let modelStopLimit: Duration = .seconds(5)
    /// How long a sidecar may take to exit after SIGTERM: its own drain time, and a margin.
    static func drainLimit(drainSeconds: Double) -> Duration { .seconds(drainSeconds + 2) }

    var isReady: Bool { self == .ready }
    var isStarting: Bool { self == .starting }

    /// Begins a graceful stop; a replica already stopping keeps its progress.
    mutating func stop(at now: ContinuousClock.Instant) {
        if self == .starting || self == .ready || self == .notReady { self = .unpublished(since: now) }
    }

    /// Kills both process groups at once.
    mutating func kill() -> [Action] {
        self = .killed
        return [.kill(.model, overdue: false), .kill(.sidecar, overdue: false)]
    }

    /// Moves a stop as far as it can go now. `drainLimit` is how long a sidecar may take to exit
    /// after SIGTERM (its own drain time plus a margin).
    mutating func advance(at now: ContinuousClock.Instant, sidecarExited: Bool, modelExited: Bool, drainLimit: Duration) -> [Action] {
        var actions: [Action] = []
        while let step = next(at: now, sidecarExited: sidecarExited, modelExited: modelExited, drainLimit: drainLimit) {
            actions.append(step.action)
            self = step.phase
        }
        return actions
    }

    private func next(at now: ContinuousClock.Instant, sidecarExited: Bool, modelExited: Bool,
                      drainLimit: Duration) -> (action: Action, phase: ReplicaPhase)? {
        switch self {
        case .starting, .ready, .notReady, .killed:
            return nil
        case .unpublished(let since, let modelKilled):
            if sidecarExited { return (.terminate(.model), .stoppingModel(since: now, killed: modelKilled)) }
            // A model server that died mid-stop leaves its group to be cleared at once, as below.
            if modelExited, !modelKilled { return (.kill(.model, overdue: false), .unpublished(since: since, modelKilled: true)) }
            guard now - since >= Self.unpublishDelay else { return nil }
            return (.terminate(.sidecar), .drainingSidecar(since: now, killed: false, modelKilled: modelKilled))
        case .drainingSidecar(let since, let killed, let modelKilled):
            if sidecarExited { return (.terminate(.model), .stoppingModel(since: now, killed: modelKilled)) }
            if modelExited, !modelKilled {
                return (.kill(.model, overdue: false), .drainingSidecar(since: since, killed: killed, modelKilled: true))
            }
            guard !killed, now - since > drainLimit else { return nil }
            return (.kill(.sidecar, overdue: true), .drainingSidecar(since: since, killed: true, modelKilled: modelKilled))
        case .stoppingModel(let since, let killed):
            guard !killed else { return nil }
            // Once the leader is gone, anything it started and left behind in its group goes too.
            if modelExited { return (.kill(.model, overdue: false), .stoppingModel(since: since, killed: true)) }
            guard now - since > Self.modelStopLimit else { return nil }
            return (.kill(.model, overdue: true), .stoppingModel(since: since, killed: true))
        }
    }
}
