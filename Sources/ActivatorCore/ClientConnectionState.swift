/// The lifecycle of one client connection to the proxy, as a state machine: waiting for a request
/// head (with nginx's timeouts for a first head, a partial head and an idle keep-alive), serving
/// an exchange, dropping the rest of a body already answered, and closing without losing what was
/// written. The channel handler feeds it events and performs the actions it returns; the request
/// in an exchange has its own machine (`ProxiedRequestState`).
///
/// Times are nanoseconds on a monotonic clock, passed in.
public struct ClientConnectionState: Sendable {
    public enum Phase: Sendable, Equatable {
        /// No request under way; the next head is awaited since `since`.
        case awaitingHead(since: UInt64, HeadWait)
        /// A request is being answered.
        case exchanging
        /// Answered before the request ended: the rest of it is read and dropped, then the next request.
        case discarding
        /// Closing once our last bytes are out. `awaitingBodyEnd`: the client is still sending a
        /// body we answered early; the sending side closes first and the connection closes when
        /// the body ends or after a linger, so the client reads our answer instead of a reset.
        case closing(awaitingBodyEnd: Bool, flushed: Bool)
        case closed
    }

    public enum HeadWait: Sendable, Equatable {
        /// A new connection: the head timeout runs from the accept.
        case firstRequest
        /// Kept alive after a response, nothing of the next head read: the keep-alive timeout.
        case keptAlive
        /// Some of a head after a keep-alive wait: the head timeout, from its first bytes.
        case partialHead
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Ready for the next request: replay held pipelined parts, resume reading.
        case nextRequest
        /// Flush what was written and close once it is out (`closing`).
        case closeAfterFlush
        /// Our answer is out; close the sending side and wait for the client's body to end, at most the linger time.
        case halfCloseAndLinger
        case closeNow
        /// Look again at this time.
        case recheck(at: UInt64)
        /// Idle past the keep-alive timeout: close quietly.
        case closeIdle
        /// The head did not arrive in time: answer 408 and close.
        case headTimedOut
        /// The client paused its body past the body timeout: the request in the exchange fails
        /// (408), or, while a body already answered is dropped, the connection closes.
        case bodyTimedOut
    }

    public struct Timeouts: Sendable, Equatable {
        public var head: UInt64
        public var body: UInt64
        public var keepAlive: UInt64

        public init(head: UInt64, body: UInt64, keepAlive: UInt64) {
            self.head = head
            self.body = body
            self.keepAlive = keepAlive
        }

        var shortest: UInt64 { min(head, body, keepAlive) }
    }

    public let timeouts: Timeouts
    public private(set) var phase: Phase
    /// The connection closes after the current response (the client or the replica asked, or the
    /// request cannot be framed past its end).
    public private(set) var closeAfterResponse = false

    public init(timeouts: Timeouts, now: UInt64) {
        self.timeouts = timeouts
        phase = .awaitingHead(since: now, .firstRequest)
    }

    /// Whether the connection may give way to a new one at the connection cap: nothing of a request
    /// has arrived on it.
    public var isIdle: Bool {
        if case .awaitingHead(_, let wait) = phase { return wait != .partialHead }
        return false
    }

    /// A request is being answered, or the rest of one is being dropped: a new head waits.
    public var isServing: Bool {
        switch phase {
        case .exchanging, .discarding: true
        default: false
        }
    }

    public var isClosing: Bool {
        switch phase {
        case .closing, .closed: true
        default: false
        }
    }

    /// When the slow-client timer should first fire.
    public var firstCheck: UInt64 {
        if case .awaitingHead(let since, _) = phase { return since + timeouts.head }
        return 0
    }

    // MARK: Events

    /// A read from the client completed. `deliveredParts`: the read carried parts of a request (a
    /// head, body bytes or an end). Only a read that delivered nothing while a kept-alive
    /// connection waits is the start of the next head: a read that ended the previous request (an
    /// early answer's request end arrives in the same read as its head) belonged to that request,
    /// and taking it for a new head gave an idle connection the head timeout and an unasked-for
    /// 408 instead of the keep-alive timeout's quiet close. Bytes of a next head that came in that
    /// same read are counted from the client's next read.
    public mutating func readCompleted(now: UInt64, deliveredParts: Bool) {
        guard !deliveredParts else { return }
        if case .awaitingHead(_, .keptAlive) = phase {
            phase = .awaitingHead(since: now, .partialHead)
        }
    }

    /// A request head arrived. `continues`: the connection can carry another request after it.
    /// False when the head comes while closing (the caller then drops it).
    public mutating func requestStarted(continues: Bool) -> Bool {
        guard case .awaitingHead = phase else { return false }
        phase = .exchanging
        closeAfterResponse = !continues
        return true
    }

    /// The connection cannot carry another request after this response.
    public mutating func closeAfterThisResponse() {
        closeAfterResponse = true
    }

    /// The exchange's response was written in full (or answered by us).
    public mutating func exchangeEnded(requestEnded: Bool, now: UInt64) -> Action {
        guard phase == .exchanging else { return .none }
        if !requestEnded {
            if closeAfterResponse {
                phase = .closing(awaitingBodyEnd: true, flushed: false)
                return .closeAfterFlush
            }
            phase = .discarding
            return .none
        }
        if closeAfterResponse {
            phase = .closing(awaitingBodyEnd: false, flushed: false)
            return .closeAfterFlush
        }
        phase = .awaitingHead(since: now, .keptAlive)
        return .nextRequest
    }

    /// The end of a request body that was being dropped.
    public mutating func droppedBodyEnded(now: UInt64) -> Action {
        switch phase {
        case .discarding:
            phase = .awaitingHead(since: now, .keptAlive)
            return .nextRequest
        case .closing(true, let flushed):
            if flushed {
                phase = .closed
                return .closeNow
            }
            phase = .closing(awaitingBodyEnd: false, flushed: false)
            return .none
        default:
            return .none
        }
    }

    /// Everything written before the close reached the socket.
    public mutating func flushed() -> Action {
        guard case .closing(let awaitingBodyEnd, false) = phase else { return .none }
        if awaitingBodyEnd {
            phase = .closing(awaitingBodyEnd: true, flushed: true)
            return .halfCloseAndLinger
        }
        phase = .closed
        return .closeNow
    }

    /// The request could not be parsed, or the connection is closed for another reason: close
    /// after what was written.
    public mutating func abort() -> Action {
        closeAfterResponse = true
        switch phase {
        case .closed:
            return .none
        case .closing(_, true):
            phase = .closed
            return .closeNow
        case .closing(_, false):
            // A flush is under way; the close follows it.
            phase = .closing(awaitingBodyEnd: false, flushed: false)
            return .none
        default:
            phase = .closing(awaitingBodyEnd: false, flushed: false)
            return .closeAfterFlush
        }
    }

    public mutating func closed() {
        phase = .closed
    }

    /// The slow-client timer fired. `lastRead`: the last read from the client; `bodyPending`: a
    /// request body is still being read; `readsHeldByUs`: the proxy, not the client, paused reading
    /// (backpressure toward a replica, or a full hold buffer), so a quiet client is not slow.
    public mutating func timerFired(now: UInt64, lastRead: UInt64, bodyPending: Bool, readsHeldByUs: Bool) -> Action {
        switch phase {
        case .awaitingHead(let since, let wait):
            let limit = wait == .keptAlive ? timeouts.keepAlive : timeouts.head
            guard now >= since + limit else { return .recheck(at: since + limit) }
            if wait == .keptAlive {
                phase = .closed
                return .closeIdle
            }
            closeAfterResponse = true
            phase = .closing(awaitingBodyEnd: false, flushed: false)
            return .headTimedOut
        case .exchanging where bodyPending && !readsHeldByUs, .discarding:
            // Reading a body, and not held back by us: the client itself has paused.
            guard now >= lastRead + timeouts.body else { return .recheck(at: lastRead + timeouts.body) }
            if phase == .discarding { phase = .closed }
            return .bodyTimedOut
        case .exchanging:
            // Busy: a response is under way, or the body is held back by us. Look again later.
            return .recheck(at: now + timeouts.shortest)
        case .closing, .closed:
            return .none
        }
    }
}
