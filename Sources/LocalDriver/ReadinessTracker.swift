import ThawVocabulary

/// One replica's readiness as a kubelet tracks it from the container's `readinessProbe`: nothing
/// counts before the initial delay; a starting replica is ready on its first pass; a ready one is
/// probed once a period and leaves rotation after `failureThreshold` failures in a row (it keeps
/// running, as in Kubernetes: readiness never restarts anything), and comes back on its next pass.
///
/// Pure: the supervisor passes the time and each probe's outcome, and publishes what this says.
struct ReadinessTracker: Equatable {
    enum Change: Equatable {
        case none
        /// The replica passed: into rotation (again).
        case becameReady
        /// `failures` probes in a row failed: out of rotation until one passes.
        case becameNotReady(failures: Int)
    }

    let timing: ProbeTiming
    let started: ContinuousClock.Instant
    private(set) var ready = false
    private(set) var failuresInARow = 0
    private(set) var nextProbe: ContinuousClock.Instant

    init(timing: ProbeTiming, started: ContinuousClock.Instant) {
        self.timing = timing
        self.started = started
        nextProbe = started + timing.initialDelay
    }

    /// Whether the replica may be routed to at all: its initial delay is over.
    func isPastInitialDelay(at now: ContinuousClock.Instant) -> Bool {
        now >= started + timing.initialDelay
    }

    /// Whether a ready (or once ready) replica is due its periodic probe.
    func isProbeDue(at now: ContinuousClock.Instant) -> Bool {
        ready || failuresInARow > 0 ? now >= nextProbe : false
    }

    /// A starting replica passed its first probe.
    mutating func started(at now: ContinuousClock.Instant) {
        ready = true
        failuresInARow = 0
        nextProbe = now + timing.period
    }

    /// A periodic probe's outcome.
    mutating func record(passed: Bool, at now: ContinuousClock.Instant) -> Change {
        nextProbe = now + timing.period
        if passed {
            failuresInARow = 0
            guard !ready else { return .none }
            ready = true
            return .becameReady
        }
        failuresInARow += 1
        guard ready, failuresInARow >= timing.failureThreshold else { return .none }
        ready = false
        return .becameNotReady(failures: failuresInARow)
    }
}
