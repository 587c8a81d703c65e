/// Whether a target is serving, coming up, or idle.
public enum TargetActivity: Sendable, Equatable, CustomStringConvertible {
    /// Replicas were asked for and fewer than needed are ready; requests are buffered.
    case activating
    case active
    case inactive(InactiveReason)

    public enum InactiveReason: String, Sendable {
        case noTraffic = "no traffic"
        case activationTimedOut = "activation timed out"
    }

    public var description: String {
        switch self {
        case .activating: return "activating"
        case .active: return "active"
        case .inactive(let reason): return "inactive (\(reason.rawValue))"
        }
    }

    var isInactive: Bool { if case .inactive = self { return true } else { return false } }
}

/// Whether the activator must stay in the request path of a target.
public enum ActivatorMode: String, Sendable {
    /// Requests go through the activator (buffering, scale from zero, burst capacity).
    case proxy
    /// Requests go straight to replicas.
    case serve
}

/// What to do with a target's replicas after one planning step.
public struct ReplicaPlan: Sendable, Equatable {
    /// The count to set now, or nil to leave the current count as it is.
    public var replicas: Int?
    /// The count the planner wants; -1 while unknown (no decision yet).
    public var want: Int
    public var activatorMode: ActivatorMode
    public var activity: TargetActivity
    /// Plan again after this long even without a new decision (a timer is about to expire).
    public var recheckAfter: Duration?
    /// Why the plan is what it is, for logs and timelines.
    public var reason: String
}

/// Turns decisions into replica counts, one target at a time: min/max bounds, initial scale, and
/// the scale-to-zero gating with its timers, as Knative's KPA reconciler does.
///
/// A target goes to zero only when all of these hold: the decider wants zero (a whole stable
/// window without traffic), the target has been active for at least a stable window, the activator
/// is in the request path, and the grace period (or the pod retention period) has passed. A target
/// that stays activating longer than the activation timeout is given up.
public struct ReplicaPlanner: Sendable {
    public var policy: ReplicaPolicy
    public private(set) var activity: TargetActivity = .activating
    public private(set) var activitySince: Timestamp
    /// True once the target reached its initial scale; until then the initial scale is a floor.
    public private(set) var initialized = false
    /// Since when the activator has been in the request path; nil while it is not.
    public private(set) var activatorInPathSince: Timestamp?
    /// The last known want (Knative's `status.desiredScale`), kept across unknown decisions.
    public private(set) var lastWant: Int = -1

    /// A new target starts activating, with the activator in its path. A target found already
    /// running (`adopting` its replica count: an autoscaler restarted, a workload that opted in)
    /// starts active, or inactive at zero, and past its initial scale: with no metrics yet it is
    /// left as it is, not set to its initial scale or its minimum.
    public init(policy: ReplicaPolicy, now: Timestamp, adopting replicas: Int? = nil) {
        self.policy = policy
        self.activitySince = now
        self.activatorInPathSince = now
        if let replicas {
            activity = replicas > 0 ? .active : .inactive(.noTraffic)
            initialized = true
        }
    }

    /// The count a new target is created with.
    public var initialReplicas: Int { policy.initialScale }

    /// Plans one step.
    /// - Parameters:
    ///   - desired: the decider's latest valid desired count, or nil when it has not decided yet.
    ///   - excessBurstCapacity: from the same decision (its sign decides the activator mode).
    ///   - readyReplicas: replicas that answer their readiness check now.
    ///   - activatorInPath: whether the activator is confirmed to be routing this target's traffic.
    ///   - waitingRequests: requests the activator holds for this target now; while any wait, it is
    ///     not scaled to zero (they would be stranded, kserve#1247: a pod no node had room for yet).
    public mutating func plan(desired: Int?, excessBurstCapacity: Int, readyReplicas: Int,
                              activatorInPath: Bool, waitingRequests: Int = 0, now: Timestamp) -> ReplicaPlan {
        var step = Step(want: desired ?? -1, apply: false, recheckAfter: nil, reason: "")
        if step.want < 0 && activity != .activating {
            step.reason = "no metrics yet"
        } else {
            step = bounded(step)
            if step.want == 0 { step = gateScaleToZero(step, activatorInPath: activatorInPath, now: now) }
            if step.want == 0, waitingRequests > 0 {
                step = Step(want: 1, apply: true, recheckAfter: nil, reason: "\(waitingRequests) request(s) waiting: not scaling to zero")
            }
        }

        let mode: ActivatorMode = (step.want > 0 && excessBurstCapacity >= 0) ? .serve : .proxy
        if mode == .proxy {
            if activatorInPathSince == nil { activatorInPathSince = now }
        } else {
            activatorInPathSince = nil
        }
        if !(step.want == -1 && lastWant >= 0) { lastWant = step.want }
        updateActivity(want: step.want, readyReplicas: readyReplicas, now: now)

        return ReplicaPlan(replicas: step.apply ? step.want : nil, want: step.want, activatorMode: mode,
                           activity: activity, recheckAfter: step.recheckAfter, reason: step.reason)
    }

    /// Leaves the scale as it is (the data behind a decision is missing): no count to set, the
    /// current want, activity and activator mode.
    public func hold(reason: String) -> ReplicaPlan {
        ReplicaPlan(replicas: nil, want: lastWant, activatorMode: activatorInPathSince == nil ? .serve : .proxy, activity: activity,
                    recheckAfter: nil, reason: reason)
    }

    private struct Step {
        var want: Int
        var apply: Bool
        var recheckAfter: Duration?
        var reason: String
    }

    private func bounded(_ step: Step) -> Step {
        var lower = policy.effectiveMinScale
        if policy.initialScale > 1, !initialized, policy.reachable {
            lower = max(lower, policy.initialScale)
        }
        let want = ReplicaPolicy.clamp(step.want, min: lower, max: policy.maxScale)
        let reason = want == step.want ? "desired \(want)" : "desired \(step.want) bounded to \(want)"
        return Step(want: want, apply: true, recheckAfter: nil, reason: reason)
    }

    private func gateScaleToZero(_ step: Step, activatorInPath: Bool, now: Timestamp) -> Step {
        guard policy.enableScaleToZero else {
            return Step(want: 1, apply: true, recheckAfter: nil, reason: "scale to zero disabled")
        }
        let inState = now - activitySince
        switch activity {
        case .activating:
            if inState > policy.activationTimeout {
                return Step(want: 0, apply: true, recheckAfter: nil,
                            reason: "activation timed out after \(policy.activationTimeout)")
            }
            return Step(want: -1, apply: false, recheckAfter: policy.activationTimeout,
                        reason: "not scaling to zero while activating")
        case .active:
            if inState >= policy.stableWindow || policy.idleWindowDecided {
                return Step(want: 0, apply: false, recheckAfter: activatorInPathSince != nil ? .seconds(3) : nil,
                            reason: "idle; marking inactive")
            }
            return Step(want: 1, apply: true, recheckAfter: policy.stableWindow - inState,
                        reason: "idle but active for less than a stable window")
        case .inactive:
            guard policy.activatorAlwaysInPath || activatorInPath else {
                return Step(want: 0, apply: false, recheckAfter: .seconds(1),
                            reason: "waiting for the activator to be in the path")
            }
            let retention = policy.reachable ? policy.scaleToZeroPodRetention : .zero
            if inState >= max(policy.scaleToZeroGracePeriod, retention) {
                return Step(want: 0, apply: true, recheckAfter: nil, reason: "scaled to zero")
            }
            if retention > .zero, inState < retention {
                return Step(want: 0, apply: false, recheckAfter: retention - inState,
                            reason: "keeping the last replica for the retention period")
            }
            let inPathFor = activatorInPathSince.map { now - $0 } ?? .zero
            let remaining = policy.scaleToZeroGracePeriod - inPathFor
            if remaining <= .zero {
                return Step(want: 0, apply: true, recheckAfter: nil, reason: "scaled to zero")
            }
            return Step(want: 0, apply: false, recheckAfter: remaining, reason: "waiting out the grace period")
        }
    }

    private mutating func updateActivity(want: Int, readyReplicas: Int, now: Timestamp) {
        let lower = policy.effectiveMinScale
        let minReady = initialized ? max(lower, 1) : max(lower, policy.initialScale)
        if readyReplicas >= minReady { initialized = true }

        let next: TargetActivity
        if want == 0 || minReady == 0 {
            next = (activity == .activating && minReady > 0) ? .inactive(.activationTimedOut) : .inactive(.noTraffic)
        } else if readyReplicas < minReady {
            next = (want > 0 || !activity.isInactive) ? .activating : .inactive(.noTraffic)
        } else {
            next = (want > 0 || !activity.isInactive) ? .active : activity
        }
        if next != activity {
            activity = next
            activitySince = now
        }
    }
}
