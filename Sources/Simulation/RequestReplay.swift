import Autoscaling
import ScalingPolicy

/// Settings of a request-level replay that describe the world, not the policy.
public struct RequestReplayOptions: Sendable {
    /// Seconds from asking for a replica to it being ready (process start plus model load).
    public var loadTime: Double = 30
    /// Requests one replica serves at once (its containerConcurrency).
    public var slots: Int = 10
    /// Replicas ready at t=0.
    public var initialReplicas: Int = 0
    /// Seconds after the last arrival to keep replaying, so the scale-down is seen and paid for.
    public var tailSeconds: Int = 120

    public init() {}
}

/// One second of a request-level replay, for `--json` and the plot.
public struct RequestReplaySecond: Sendable, Equatable {
    public var t: Int
    /// Replicas that exist: ready, starting and draining.
    public var replicas: Int
    public var ready: Int
    /// Requests in service and waiting, averaged over the second.
    public var concurrency: Double
    /// Requests waiting for a slot at the second's end.
    public var waiting: Int
    public var reason: String?
}

/// What a policy cost and what it made requests wait, over one replay.
public struct RequestReplaySummary: Sendable, Equatable {
    public var policy: String
    public var seconds: Int
    public var requests: Int
    /// Sum over seconds of replicas that exist (starting and draining ones cost too).
    public var replicaSeconds: Double
    /// Sum over requests of their wait for a slot: the work that waited for capacity.
    public var queuedSlotSeconds: Double
    public var waitP50: Double
    public var waitP99: Double
    public var waitMax: Double
    /// Requests that waited for a replica to start: served by a replica that was not ready when they arrived.
    public var coldStarts: Int
    /// Replicas started.
    public var starts: Int
    public var peakReplicas: Int
}

/// What decides the replica count in a request-level replay: the daemon's own loop (Thaw's policy
/// or the KPA), or a model of another autoscaler.
public protocol ReplicaController {
    var name: String { get }
    /// The second `t` has just ended with these reports; returns the replica count to set now (nil:
    /// leave it) and why.
    mutating func decide(second t: Int, stat: RequestStat, waiting: Int, ready: Int, replicas: Int) -> (replicas: Int?, reason: String?)
}

/// The autoscaler daemon's own loop (`TargetScaler`) fed the reports it would get.
public struct DaemonController: ReplicaController {
    public let name: String
    var scaler: TargetScaler

    public init(name: String, policy: TargetPolicy, initialReplicas: Int) {
        self.name = name
        scaler = TargetScaler(spec: policy.decider, replicas: policy.replicas, readyReplicas: initialReplicas, now: .epoch,
                              adopting: initialReplicas)
    }

    public mutating func decide(second t: Int, stat: RequestStat, waiting: Int, ready: Int, replicas: Int) -> (replicas: Int?, reason: String?) {
        guard DaemonReports.deliver(stat, second: t, waiting: waiting, readyReplicas: ready, to: &scaler) != nil else { return (nil, nil) }
        let step = scaler.step(readyReplicas: ready, activatorInPath: true, waitingRequests: waiting, now: Timestamp(seconds: Double(t)))
        return (step.plan.replicas, step.plan.reason)
    }
}

/// Replays requests through replicas with slots and the activator's queue, second by second, with
/// a controller deciding the replica count as the daemon would: every request is followed from
/// arrival through its wait to the end of its service.
///
/// Within a second, events happen in time order: arrivals join the queue (first come, first
/// served), a replica whose load finishes takes waiting requests, a finished request frees its
/// slot. A waiting request goes to the ready replica with the fewest requests in service, as the
/// activator's balancer sends it. At each whole second the controller gets the past second's
/// reports and may set a new count: new replicas are ready one load time later; fewer replicas
/// removes starting ones first (newest first), then idle ones, then busy ones, which finish what
/// they hold (draining) without taking more.
public struct RequestReplay {
    public let log: RequestLog
    public let options: RequestReplayOptions

    public init(log: RequestLog, options: RequestReplayOptions) {
        self.log = log
        self.options = options
    }

    struct Replica {
        var readyAt: Double
        var busy = 0
        var draining = false
    }

    public func run<C: ReplicaController>(_ controller: inout C) -> (timeline: [RequestReplaySecond], summary: RequestReplaySummary) {
        let requests = log.requests
        let slots = max(1, options.slots)
        // The trace and its tail; past that only while requests are still waiting or in service,
        // so every request's wait is measured, up to a day more.
        let planned = Int(log.span.rounded(.up)) + max(0, options.tailSeconds)
        var replicas = (0..<max(0, options.initialReplicas)).map { _ in Replica(readyAt: 0) }
        var completions = MinHeap()
        var queue: [Int] = []
        var queueHead = 0
        var next = 0
        var waits: [Double] = []
        waits.reserveCapacity(requests.count)
        var summary = RequestReplaySummary(policy: controller.name, seconds: planned, requests: requests.count, replicaSeconds: 0,
                                           queuedSlotSeconds: 0, waitP50: 0, waitP99: 0, waitMax: 0, coldStarts: 0,
                                           starts: 0, peakReplicas: replicas.count)
        var timeline: [RequestReplaySecond] = []
        timeline.reserveCapacity(planned)
        var inService = 0
        var reason: String?

        func dispatch(at now: Double) {
            while queueHead < queue.count {
                var best = -1
                for (i, replica) in replicas.enumerated() where replica.readyAt <= now && !replica.draining && replica.busy < slots {
                    if best < 0 || replica.busy < replicas[best].busy { best = i }
                }
                guard best >= 0 else { return }
                let index = queue[queueHead]
                queueHead += 1
                let request = requests[index]
                replicas[best].busy += 1
                inService += 1
                waits.append(now - request.arrival)
                if replicas[best].readyAt > request.arrival { summary.coldStarts += 1 }
                completions.push(now + request.service, replica: best)
            }
            if queueHead > 4096, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
        }

        func remove(_ count: Int, at now: Double) {
            var left = count
            // Starting replicas first, newest first; then idle ready ones; then busy ones drain.
            let byPreference = replicas.indices.filter { !replicas[$0].draining }.sorted { a, b in
                let ra = replicas[a], rb = replicas[b]
                let startingA = ra.readyAt > now, startingB = rb.readyAt > now
                if startingA != startingB { return startingA }
                if startingA { return ra.readyAt > rb.readyAt }
                return ra.busy < rb.busy
            }
            var gone = Set<Int>()
            for i in byPreference where left > 0 {
                left -= 1
                if replicas[i].busy == 0 { gone.insert(i) } else { replicas[i].draining = true }
            }
            compact(removing: gone)
        }

        // Removing replicas renumbers them: completions name replicas by index, so they are renumbered too.
        func compact(removing gone: Set<Int>) {
            guard !gone.isEmpty else { return }
            var newIndex = [Int](repeating: -1, count: replicas.count)
            var kept: [Replica] = []
            for (i, replica) in replicas.enumerated() where !gone.contains(i) {
                newIndex[i] = kept.count
                kept.append(replica)
            }
            replicas = kept
            completions.renumber { newIndex[$0] }
        }

        var statConcurrency = 0.0
        var statArrivals = 0
        var second = 0
        while second < planned || (second < planned + 86_400 && (inService > 0 || queueHead < queue.count)) {
            defer { second += 1 }
            let start = Double(second)
            // The past second's reports, then the decision.
            if second > 0 {
                let ready = replicas.filter { $0.readyAt <= start && !$0.draining }.count
                let waiting = queue.count - queueHead
                let decision = controller.decide(second: second, stat: RequestStat(averageConcurrency: statConcurrency, requestCount: Double(statArrivals)),
                                                 waiting: waiting, ready: ready, replicas: replicas.filter { !$0.draining }.count)
                if let why = decision.reason { reason = why }
                if let target = decision.replicas {
                    let active = replicas.filter { !$0.draining }.count
                    if target > active {
                        summary.starts += target - active
                        replicas += (0..<(target - active)).map { _ in Replica(readyAt: start + options.loadTime) }
                    } else if target < active {
                        remove(active - target, at: start)
                    }
                }
            }
            statConcurrency = 0
            statArrivals = 0
            var now = start
            let end = start + 1
            dispatch(at: now)
            while true {
                let nextArrival = next < requests.count ? requests[next].arrival : .infinity
                let nextCompletion = completions.peek ?? .infinity
                let nextReady = replicas.lazy.filter { $0.readyAt > now }.map(\.readyAt).min() ?? .infinity
                let time = min(nextArrival, nextCompletion, nextReady)
                guard time < end else { break }
                statConcurrency += Double(inService + queue.count - queueHead) * (time - now)
                now = time
                if nextCompletion == time, let done = completions.pop() {
                    inService -= 1
                    replicas[done].busy -= 1
                    if replicas[done].draining && replicas[done].busy == 0 { compact(removing: [done]) }
                } else if nextArrival == time {
                    queue.append(next)
                    next += 1
                    statArrivals += 1
                }
                dispatch(at: now)
            }
            statConcurrency += Double(inService + queue.count - queueHead) * (end - now)
            summary.replicaSeconds += Double(replicas.count)
            summary.peakReplicas = max(summary.peakReplicas, replicas.count)
            timeline.append(RequestReplaySecond(t: second, replicas: replicas.count,
                                                ready: replicas.filter { $0.readyAt <= start && !$0.draining }.count,
                                                concurrency: statConcurrency, waiting: queue.count - queueHead, reason: reason))
        }
        summary.seconds = second
        // Requests still waiting at the end waited at least until then.
        for index in queue[queueHead...] { waits.append(Double(second) - requests[index].arrival) }
        waits.sort()
        summary.queuedSlotSeconds = waits.reduce(0, +)
        if !waits.isEmpty {
            summary.waitP50 = waits[Int(Double(waits.count - 1) * 0.5)]
            summary.waitP99 = waits[Int(Double(waits.count - 1) * 0.99)]
            summary.waitMax = waits[waits.count - 1]
        }
        return (timeline, summary)
    }
}

/// Completion times, earliest first, each naming the replica that frees a slot.
struct MinHeap {
    private var items: [(time: Double, replica: Int)] = []

    var peek: Double? { items.first?.time }

    mutating func push(_ time: Double, replica: Int) {
        items.append((time, replica))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].time < items[parent].time else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].time < items[smallest].time { smallest = left }
                if right < items.count, items[right].time < items[smallest].time { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top.replica
    }

    mutating func renumber(_ map: (Int) -> Int) {
        for i in items.indices { items[i].replica = map(items[i].replica) }
    }
}
