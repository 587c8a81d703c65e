import DequeModule
import ThawVocabulary

/// Decides, for one target, which ready endpoint serves each request, and who waits.
///
/// The rules the activator promises live here, apart from sockets and threads so each is a unit test:
/// a request goes to the least-loaded ready endpoint and never above the endpoint's capacity; the rest
/// wait in arrival order in a bounded queue; the first request that finds no ready endpoint pokes the
/// autoscaler; a target reported as failed turns waiting requests away at once. Time is passed in.
///
/// `Waiter` is whatever the caller needs to resume a queued request (a callback, an id); the balancer
/// only stores it and hands it back with the endpoint it was given.
///
/// The per-request calls are `@inlinable`, so a caller in another module (the proxy) specialises
/// them for its own `Waiter` instead of running generic code that looks up metadata on every
/// request; that takes no compiler flag, so the module stays a product others can depend on.
public struct TargetBalancer<Waiter: Sendable>: Sendable {
    /// The outcome of asking for an endpoint.
    public enum Admission: Sendable {
        /// Send the request to this endpoint now; call `release` when it is done.
        case forward(EndpointAddress)
        /// The request waits; the waiter comes back from a later call, or `cancel(ticket)` takes it out.
        /// `poke` is true when the autoscaler should hear at once that this target is wanted.
        case queued(ticket: UInt64, poke: Bool)
        case rejected(Rejection)
    }

    /// A queued request given an endpoint, to be forwarded now.
    public struct Dispatch: Sendable {
        public var waiter: Waiter
        public var endpoint: EndpointAddress

        @inlinable init(waiter: Waiter, endpoint: EndpointAddress) {
            self.waiter = waiter
            self.endpoint = endpoint
        }
    }

    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var inFlight = 0
        /// While above 0, the endpoint is in slow start: at most this many requests at once.
        @usableFromInline var window = 0

        @inlinable init(window: Int = 0) {
            self.window = window
        }
    }

    /// Requests a newly ready endpoint gets at once, the proxy's default. A model server that has just come up may have a
    /// small accept backlog and cold caches: a whole queue released onto it at once overflows the
    /// backlog, and connects that the kernel dropped stall for seconds. As TCP's slow start and
    /// Envoy's slow-start mode do, the endpoint starts with a small window that grows by one with
    /// each request it finishes (so it doubles every round trip), and new connections arrive two at
    /// a time as answers come back instead of in one burst.
    public static var defaultInitialWindow: Int { 4 }
    /// A new endpoint's slow-start window; 0: none, it takes `capacity` at once.
    public let initialWindow: Int
    /// Past this many at once (or the target's capacity) slow start is over.
    public static var windowCeiling: Int { 128 }

    @usableFromInline
    struct Queued: Sendable {
        @usableFromInline var ticket: UInt64
        @usableFromInline var waiter: Waiter
        @usableFromInline var proxied: Bool

        @inlinable init(ticket: UInt64, waiter: Waiter, proxied: Bool) {
            self.ticket = ticket
            self.waiter = waiter
            self.proxied = proxied
        }
    }

    public let name: String
    /// Requests one endpoint may serve at once; 0 means unlimited.
    public private(set) var capacity: Int
    public private(set) var queueLimit: Int
    /// Why the target cannot come up, while the endpoint source says so.
    public private(set) var failure: String?
    @usableFromInline var ready: [EndpointAddress] = []
    @usableFromInline var slots: [EndpointAddress: Slot] = [:]
    @usableFromInline var queue = Deque<Queued>()
    @usableFromInline var nextTicket: UInt64 = 0
    @usableFromInline var rotation = 0
    @usableFromInline var lastPoke: Double?
    @usableFromInline var meter: ConcurrencyMeter
    /// The fewest seconds between two pokes for the same target while requests keep waiting.
    public static var pokeInterval: Double { 1 }

    public init(name: String, capacity: Int, queueLimit: Int, now: Double, initialWindow: Int = 0) {
        self.name = name
        self.initialWindow = initialWindow
        self.capacity = capacity
        self.queueLimit = queueLimit
        self.meter = ConcurrencyMeter(now: now)
    }

    @inlinable public var readyEndpoints: [EndpointAddress] { ready }
    @inlinable public var queueLength: Int { queue.count }
    /// Requests held by the activator for this target: waiting plus being forwarded.
    @inlinable public var activeRequests: Int { meter.current }
    @inlinable public func inFlight(at endpoint: EndpointAddress) -> Int { slots[endpoint]?.inFlight ?? 0 }
    /// The endpoint's slow-start window; nil once slow start is over.
    @inlinable public func window(at endpoint: EndpointAddress) -> Int? {
        guard let window = slots[endpoint]?.window, window > 0 else { return nil }
        return window
    }

    /// Asks for an endpoint for a new request. The waiter is only made if the request has to wait,
    /// so the common path allocates nothing for it. `proxied` marks a request an activator
    /// forwarded (a sidecar reports those apart, so the autoscaler does not count them twice); the
    /// same flag must come back with `release` and `reroute`.
    @inlinable
    public mutating func admit(_ waiter: @autoclosure () -> Waiter, proxied: Bool = false, now: Double) -> Admission {
        if queue.isEmpty, let endpoint = pickEndpoint() {
            meter.started(proxied: proxied, at: now)
            slots[endpoint, default: Slot()].inFlight += 1
            return .forward(endpoint)
        }
        if ready.isEmpty, let failure {
            return .rejected(.targetFailed(target: name, reason: failure))
        }
        guard queue.count < queueLimit else {
            return .rejected(.queueFull(target: name, limit: queueLimit))
        }
        meter.started(proxied: proxied, at: now)
        return enqueue(waiter(), proxied: proxied, front: false, now: now)
    }

    @inlinable
    mutating func enqueue(_ waiter: Waiter, proxied: Bool, front: Bool, now: Double) -> Admission {
        nextTicket += 1
        let entry = Queued(ticket: nextTicket, waiter: waiter, proxied: proxied)
        let wasEmpty = queue.isEmpty
        if front { queue.prepend(entry) } else { queue.append(entry) }
        var poke = false
        if ready.isEmpty, wasEmpty || lastPoke.map({ now - $0 >= Self.pokeInterval }) ?? true {
            lastPoke = now
            poke = true
        }
        return .queued(ticket: nextTicket, poke: poke)
    }

    /// A forwarded request is done (answered, failed or cut off): frees its slot and hands it to the next waiter.
    @inlinable
    public mutating func release(_ endpoint: EndpointAddress, proxied: Bool = false, now: Double) -> [Dispatch] {
        meter.finished(proxied: proxied, at: now)
        if var slot = slots[endpoint] {
            slot.inFlight = max(0, slot.inFlight - 1)
            if slot.window > 0 {
                slot.window += 1
                if slot.window >= Self.windowCeiling || capacity > 0 && slot.window >= capacity { slot.window = 0 }
            }
            slots[endpoint] = slot.inFlight == 0 && !ready.contains(endpoint) ? nil : slot
        }
        return dispatchWaiting()
    }

    /// A forwarded request could not reach `endpoint` before sending it a byte (connection refused or
    /// reset): the endpoint stops getting traffic until it is probed ready again, and the request is
    /// given another endpoint or goes back to the front of the queue.
    @inlinable
    public mutating func reroute(_ waiter: Waiter, proxied: Bool = false, from endpoint: EndpointAddress, now: Double) -> Admission {
        if var slot = slots[endpoint] {
            slot.inFlight = max(0, slot.inFlight - 1)
            slots[endpoint] = slot
        }
        ready.removeAll { $0 == endpoint }
        if slots[endpoint]?.inFlight == 0 { slots[endpoint] = nil }
        if let next = pickEndpoint() {
            slots[next, default: Slot()].inFlight += 1
            return .forward(next)
        }
        if ready.isEmpty, let failure {
            meter.finished(proxied: proxied, at: now)
            return .rejected(.targetFailed(target: name, reason: failure))
        }
        return enqueue(waiter, proxied: proxied, front: true, now: now)
    }

    /// Takes a queued request out (its timeout fired, or its client went away). Nil when it was
    /// already given an endpoint, in which case the caller must `release` that endpoint itself.
    @inlinable
    public mutating func cancel(ticket: UInt64, now: Double) -> Waiter? {
        guard let index = queue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        let entry = queue.remove(at: index)
        meter.finished(proxied: entry.proxied, at: now)
        return entry.waiter
    }

    /// The endpoints that passed their readiness probe now. In-flight counts and slow-start windows
    /// of endpoints that stay are kept; a new one starts in slow start (`initialWindow`).
    @inlinable
    public mutating func setReady(_ endpoints: [EndpointAddress]) -> [Dispatch] {
        ready = endpoints
        let window = capacity > 0 && capacity <= initialWindow ? 0 : initialWindow
        for endpoint in endpoints where slots[endpoint] == nil { slots[endpoint] = Slot(window: window) }
        slots = slots.filter { endpoints.contains($0.key) || $0.value.inFlight > 0 }
        return dispatchWaiting()
    }

    /// New limits from a reloaded routing table. Requests beyond a lowered queue limit keep their place.
    public mutating func setLimits(capacity: Int, queueLimit: Int) -> [Dispatch] {
        self.capacity = capacity
        self.queueLimit = queueLimit
        return dispatchWaiting()
    }

    /// Sets or clears the endpoint source's failure report. While it is set and no endpoint is ready,
    /// every waiting request is handed back to be answered 503 with the reason.
    public mutating func setFailure(_ reason: String?, now: Double) -> [Waiter] {
        failure = reason
        guard reason != nil, ready.isEmpty else { return [] }
        return removeAllWaiting(now: now)
    }

    /// Hands every waiting request back (shutdown past its drain deadline).
    @inlinable
    public mutating func removeAllWaiting(now: Double) -> [Waiter] {
        let waiters = queue.map(\.waiter)
        for entry in queue { meter.finished(proxied: entry.proxied, at: now) }
        queue.removeAll()
        return waiters
    }

    /// Closes the current stats period.
    @inlinable
    public mutating func report(now: Double) -> ConcurrencyMeter.Period { meter.report(at: now) }

    @inlinable
    mutating func dispatchWaiting() -> [Dispatch] {
        var dispatches: [Dispatch] = []
        while !queue.isEmpty, let endpoint = pickEndpoint() {
            slots[endpoint, default: Slot()].inFlight += 1
            dispatches.append(Dispatch(waiter: queue.removeFirst().waiter, endpoint: endpoint))
        }
        return dispatches
    }

    /// The ready endpoint with the fewest requests in flight and a free slot. Ties rotate, so equal
    /// endpoints share the load instead of the first one taking every request.
    @inlinable
    mutating func pickEndpoint() -> EndpointAddress? {
        let count = ready.count
        guard count > 0 else { return nil }
        rotation = rotation &+ 1
        var best: EndpointAddress?
        var bestLoad = Int.max
        for step in 0..<count {
            let endpoint = ready[(rotation &+ step) % count]
            let slot = slots[endpoint] ?? Slot()
            let load = slot.inFlight
            if capacity > 0, load >= capacity { continue }
            if slot.window > 0, load >= slot.window { continue }
            if load < bestLoad {
                best = endpoint
                bestLoad = load
                if load == 0 { break }
            }
        }
        return best
    }
}

/// Why a request is turned away by the activator itself; each says which target and why.
public enum Rejection: Sendable, Equatable, Error, CustomStringConvertible {
    case queueFull(target: String, limit: Int)
    case targetFailed(target: String, reason: String)
    case timedOut(target: String, seconds: Double, queued: Bool)
    case shuttingDown(target: String)

    /// Its kind, as a metric label.
    public var reason: String {
        switch self {
        case .queueFull: "queue_full"
        case .targetFailed: "target_failed"
        case .timedOut: "timeout"
        case .shuttingDown: "shutting_down"
        }
    }

    /// The status code the client gets.
    public var status: Int {
        switch self {
        case .queueFull, .targetFailed, .shuttingDown: 503
        case .timedOut: 504
        }
    }

    public var description: String {
        switch self {
        case .queueFull(let target, let limit):
            "target \(target): \(limit) requests are already waiting for a replica (queueLimit); retry later"
        case .targetFailed(let target, let reason):
            "target \(target) cannot come up: \(reason)"
        case .timedOut(let target, let seconds, let queued):
            queued
                ? "target \(target): no replica could take the request within its timeout of \(NumberText.plain(seconds)) s (timeoutSeconds)"
                : "target \(target): the replica did not answer within the request timeout of \(NumberText.plain(seconds)) s (timeoutSeconds)"
        case .shuttingDown(let target):
            "target \(target): the activator is shutting down and its drain deadline passed"
        }
    }
}
