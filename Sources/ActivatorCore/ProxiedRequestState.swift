import ThawVocabulary

/// The lifecycle of one request through the proxy, from its head to its last response byte, as
/// a state machine: each event returns what the caller must do, and the caller (the channel
/// handler) only does it. Sockets, the balancer and metrics stay outside, so every transition,
/// the races included, is a unit test.
///
/// The races it settles: the deadline firing while the balancer is already handing the request an
/// endpoint (`expiring`: the endpoint, when it comes, is given back and the client gets 504); the
/// client leaving while queued (the ticket is withdrawn; an endpoint already on its way is given
/// back when it arrives); a kept-alive replica connection that the replica had closed while it
/// idled (a bodiless idempotent request is sent once more on a fresh connection); a replica
/// connection that never took a byte of the request (sent again, whatever the method).
public struct ProxiedRequestState: Sendable {
    public enum Phase: Sendable, Equatable {
        /// The balancer is being asked for an endpoint.
        case admitting
        /// Waiting in the balancer's queue.
        case queued(ticket: UInt64)
        /// The deadline passed while the balancer was handing over an endpoint: it is given back on arrival.
        case expiring
        /// Opening (or taking from the pool) a connection to the endpoint.
        case connecting(EndpointAddress)
        /// The request is going out; no response head yet.
        case sending(EndpointAddress)
        /// The response head went to the client; its body is streaming.
        case responding(EndpointAddress, status: Int)
        /// Answered, or abandoned; nothing more happens but giving back a late endpoint.
        case finished
    }

    /// What the caller does next.
    public enum Action: Sendable, Equatable {
        case none
        /// Forward over a pooled connection to the endpoint, or a new one; `fresh`: only a new one.
        case connect(EndpointAddress, fresh: Bool)
        /// Ask the balancer again, telling it `endpoint` could not be reached.
        case reroute(from: EndpointAddress)
        /// Take the request out of the balancer's queue (the deadline passed, or the client left).
        case withdraw(ticket: UInt64)
        /// An endpoint the request no longer wants: give its slot back.
        case release(EndpointAddress)
        /// Answer the client ourselves; close the replica connection if one is open and give the
        /// endpoint's slot back (when there is one).
        case answer(Answer)
        /// The response ended: give the slot back, and the replica connection to the pool when the
        /// request body was read in full (else close it: the replica may still expect body bytes).
        case complete(status: Int, EndpointAddress, poolConnection: Bool)
        /// Stop: close the replica connection, give the slot back, count `status`; `closeClient`
        /// when a response had started and can no longer end cleanly.
        case abort(status: Int, release: EndpointAddress?, closeClient: Bool)
    }

    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var message: String
        /// Why the activator answered instead of a replica, as a metric label: `queue_full`,
        /// `target_failed`, `timeout`, `shutting_down`, `replica_failed`, `bad_request`.
        public var reason: String
        /// Seconds for a Retry-After header.
        public var retryAfter: Int?
        public var release: EndpointAddress?
        /// A queue ticket to withdraw first.
        public var withdraw: UInt64?

        public init(status: Int, message: String, reason: String, retryAfter: Int? = nil, release: EndpointAddress? = nil,
                    withdraw: UInt64? = nil) {
            self.status = status
            self.message = message
            self.reason = reason
            self.retryAfter = retryAfter
            self.release = release
            self.withdraw = withdraw
        }

        init(_ rejection: Rejection, release: EndpointAddress? = nil) {
            let retryAfter: Int? = switch rejection {
            case .queueFull: 1
            case .targetFailed: 5
            default: nil
            }
            self.init(status: rejection.status, message: rejection.description, reason: rejection.reason, retryAfter: retryAfter, release: release)
        }
    }

    public let target: String
    /// Seconds, for the timeout's message.
    public let timeoutSeconds: Double
    /// The method may be sent twice without a different effect (RFC 9110 §9.2.2).
    public let idempotent: Bool

    public private(set) var phase: Phase = .admitting
    /// The client sent the whole request.
    public private(set) var requestEnded = false
    /// The connection in use came from the pool.
    private var reusedConnection = false
    private var retriedStale = false
    /// Times the request was sent again because the replica took none of it.
    public private(set) var unsentRetries = 0
    public static let maxUnsentRetries = 3

    public init(target: String, timeoutSeconds: Double, idempotent: Bool) {
        self.target = target
        self.timeoutSeconds = timeoutSeconds
        self.idempotent = idempotent
    }

    /// The endpoint whose slot this request holds, if any.
    public var endpoint: EndpointAddress? {
        switch phase {
        case .connecting(let endpoint), .sending(let endpoint), .responding(let endpoint, _): endpoint
        default: nil
        }
    }

    /// The status of the response under way, once its head went out.
    public var responseStatus: Int? {
        if case .responding(_, let status) = phase { return status }
        return nil
    }

    public var isFinished: Bool { phase == .finished }

    // MARK: Getting an endpoint

    /// The balancer's answer to `admit` or `reroute`.
    public mutating func admitted(_ admission: TargetBalancer<some Sendable>.Admission) -> Action {
        guard phase == .admitting else { return .none }
        switch admission {
        case .forward(let endpoint):
            phase = .connecting(endpoint)
            return .connect(endpoint, fresh: false)
        case .queued(let ticket, _):
            phase = .queued(ticket: ticket)
            return .none
        case .rejected(let rejection):
            phase = .finished
            return .answer(Answer(rejection))
        }
    }

    /// A queued request was handed an endpoint, or turned away, from another thread.
    public mutating func dispatched(_ result: Result<EndpointAddress, Rejection>) -> Action {
        switch (phase, result) {
        case (.queued, .success(let endpoint)):
            phase = .connecting(endpoint)
            return .connect(endpoint, fresh: false)
        case (.queued, .failure(let rejection)):
            phase = .finished
            return .answer(Answer(rejection))
        case (.expiring, .success(let endpoint)):
            phase = .finished
            return .answer(Answer(timedOut(queued: true), release: endpoint))
        case (.expiring, .failure):
            phase = .finished
            return .answer(Answer(timedOut(queued: true)))
        case (_, .success(let endpoint)):
            // The client left, or the request ended otherwise, while the endpoint was on its way.
            return .release(endpoint)
        case (_, .failure):
            return .none
        }
    }

    // MARK: Forwarding

    /// A connection to the endpoint is open (`reused`: from the pool); the request goes out now.
    public mutating func connected(reused: Bool) -> Bool {
        guard case .connecting(let endpoint) = phase else { return false }
        phase = .sending(endpoint)
        reusedConnection = reused
        return true
    }

    /// No connection could be opened: nothing was sent, so the balancer picks again.
    public mutating func connectFailed() -> Action {
        guard case .connecting(let endpoint) = phase else { return .none }
        phase = .admitting
        return .reroute(from: endpoint)
    }

    /// The replica refused the request unprocessed (HTTP/2 REFUSED_STREAM, RFC 9113 §8.7: it had
    /// too many streams, or was going away): whatever its method, the balancer picks again.
    public mutating func replicaRefusedStream() -> Action {
        guard case .sending(let endpoint) = phase else { return .none }
        phase = .admitting
        return .reroute(from: endpoint)
    }

    /// The replica connection has taken none of the request bytes for too long (its accept queue
    /// is full, or it stalled before reading): nothing reached the replica, so the request goes
    /// again on a fresh connection, whatever its method, a bounded number of times.
    public mutating func sendStalled() -> Action {
        guard case .sending(let endpoint) = phase else { return .none }
        guard unsentRetries < Self.maxUnsentRetries else {
            phase = .finished
            return .answer(Answer(status: 502, message: "target \(target): replica \(endpoint) took none of the request after \(Self.maxUnsentRetries + 1) connections", reason: "replica_failed",
                                  release: endpoint))
        }
        unsentRetries += 1
        phase = .connecting(endpoint)
        return .connect(endpoint, fresh: true)
    }

    /// The client sent the last of the request.
    public mutating func requestBodyEnded() {
        requestEnded = true
    }

    public mutating func responseHead(status: Int) {
        guard case .sending(let endpoint) = phase else { return }
        phase = .responding(endpoint, status: status)
    }

    public mutating func responseEnded() -> Action {
        guard case .responding(let endpoint, let status) = phase else { return .none }
        phase = .finished
        return .complete(status: status, endpoint, poolConnection: requestEnded)
    }

    /// The replica connection failed or closed before the response ended. `hasBody`: the request
    /// carries a body (asked only here, so not worked out for every request); such a request is
    /// never sent twice once bytes of it may have reached the replica.
    public mutating func replicaFailed(_ reason: String, hasBody: Bool) -> Action {
        switch phase {
        case .sending(let endpoint):
            if reusedConnection, !hasBody, idempotent, !retriedStale {
                // A kept-alive connection the replica closed while it idled (its keep-alive limit is
                // shorter than ours): nothing of this bodiless request was processed, so send it once
                // more on a fresh connection.
                retriedStale = true
                phase = .connecting(endpoint)
                return .connect(endpoint, fresh: true)
            }
            phase = .finished
            return .answer(Answer(status: 502, message: "target \(target): replica \(endpoint) failed before completing its response (\(reason))", reason: "replica_failed",
                                  release: endpoint))
        case .responding(let endpoint, let status):
            phase = .finished
            return .abort(status: status, release: endpoint, closeClient: true)
        default:
            return .none
        }
    }

    // MARK: Endings from the client's side or the clock

    /// The request's deadline passed.
    public mutating func deadlinePassed() -> Action {
        switch phase {
        case .admitting, .expiring, .finished:
            return .none
        case .queued(let ticket):
            return .withdraw(ticket: ticket)
        case .connecting(let endpoint), .sending(let endpoint):
            phase = .finished
            return .answer(Answer(timedOut(queued: false), release: endpoint))
        case .responding(let endpoint, let status):
            phase = .finished
            return .abort(status: status, release: endpoint, closeClient: true)
        }
    }

    /// The outcome of `withdraw` after the deadline: `dequeued` false when the balancer had already
    /// handed out an endpoint, which then arrives through `dispatched`.
    public mutating func withdrawnAfterDeadline(dequeued: Bool) -> Action {
        guard case .queued = phase else { return .none }
        if dequeued {
            phase = .finished
            return .answer(Answer(timedOut(queued: true)))
        }
        phase = .expiring
        return .none
    }

    /// The client closed the connection, or it failed.
    public mutating func clientLeft() -> Action {
        switch phase {
        case .queued(let ticket):
            phase = .finished
            return .withdraw(ticket: ticket)
        case .admitting, .expiring, .finished:
            phase = .finished
            return .none
        case .connecting(let endpoint), .sending(let endpoint), .responding(let endpoint, _):
            phase = .finished
            return .abort(status: 499, release: endpoint, closeClient: false)
        }
    }

    /// The request body broke its framing, or paused past the body timeout: answered with `status`
    /// if no response has started, else the exchange is cut off.
    public mutating func requestFailed(status: Int, message: String) -> Action {
        switch phase {
        case .finished:
            return .none
        case .queued(let ticket):
            // An endpoint already on its way is given back when it arrives (`dispatched`).
            phase = .finished
            return .answer(Answer(status: status, message: message, reason: "bad_request", withdraw: ticket))
        case .admitting, .expiring:
            phase = .finished
            return .answer(Answer(status: status, message: message, reason: "bad_request"))
        case .connecting(let endpoint), .sending(let endpoint):
            phase = .finished
            return .answer(Answer(status: status, message: message, reason: "bad_request", release: endpoint))
        case .responding(let endpoint, let status):
            phase = .finished
            return .abort(status: status, release: endpoint, closeClient: true)
        }
    }

    private func timedOut(queued: Bool) -> Rejection {
        .timedOut(target: target, seconds: timeoutSeconds, queued: queued)
    }
}
