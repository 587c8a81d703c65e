import ActivatorCore
import Testing

/// Every transition of a client connection's lifecycle, without sockets: nginx's timeouts, keep-alive,
/// early answers and closes that lose nothing.
@Suite struct ClientConnectionStateTests {
    static let second: UInt64 = 1_000_000_000
    static let timeouts = ClientConnectionState.Timeouts(head: 60 * second, body: 60 * second, keepAlive: 75 * second)
    static let start: UInt64 = 1_000 * second

    static func fresh() -> ClientConnectionState {
        ClientConnectionState(timeouts: timeouts, now: start)
    }

    /// A connection that served one request and now idles, kept alive.
    static func keptAlive(at now: UInt64 = start + second) -> ClientConnectionState {
        var state = fresh()
        let accepted = state.requestStarted(continues: true)
        #expect(accepted)
        #expect(state.exchangeEnded(requestEnded: true, now: now) == .nextRequest)
        return state
    }

    // MARK: Heads and keep-alive

    @Test func aNewConnectionHasTheHeadTimeoutFromItsAcceptEvenWhileBytesArrive() {
        var state = Self.fresh()
        #expect(state.isIdle)
        #expect(state.firstCheck == Self.start + Self.timeouts.head)
        state.readCompleted(now: Self.start + 30 * Self.second, deliveredParts: false)
        #expect(state.phase == .awaitingHead(since: Self.start, .firstRequest))
        #expect(state.timerFired(now: Self.start + 59 * Self.second, lastRead: Self.start, bodyPending: false, readsHeldByUs: false)
            == .recheck(at: Self.start + 60 * Self.second))
        #expect(state.timerFired(now: Self.start + 60 * Self.second, lastRead: Self.start, bodyPending: false, readsHeldByUs: false)
            == .headTimedOut)
        #expect(state.closeAfterResponse)
        #expect(state.flushed() == .closeNow)
        #expect(state.phase == .closed)
    }

    @Test func anIdleKeptAliveConnectionClosesAtTheKeepAliveTimeout() {
        let idleFrom = Self.start + Self.second
        var state = Self.keptAlive(at: idleFrom)
        #expect(state.isIdle)
        #expect(state.timerFired(now: idleFrom + 74 * Self.second, lastRead: idleFrom, bodyPending: false, readsHeldByUs: false)
            == .recheck(at: idleFrom + 75 * Self.second))
        #expect(state.timerFired(now: idleFrom + 75 * Self.second, lastRead: idleFrom, bodyPending: false, readsHeldByUs: false)
            == .closeIdle)
        #expect(state.phase == .closed)
    }

    @Test func theFirstBytesOfTheNextHeadStartTheHeadTimeoutAndEndIdleness() {
        let idleFrom = Self.start + Self.second
        var state = Self.keptAlive(at: idleFrom)
        let bytes = idleFrom + 10 * Self.second
        state.readCompleted(now: bytes, deliveredParts: false)
        #expect(!state.isIdle)
        #expect(state.phase == .awaitingHead(since: bytes, .partialHead))
        // Later bytes do not move it: the whole head has the head timeout.
        state.readCompleted(now: bytes + Self.second, deliveredParts: false)
        #expect(state.timerFired(now: bytes + 60 * Self.second, lastRead: bytes, bodyPending: false, readsHeldByUs: false) == .headTimedOut)
    }

    @Test func theReadThatEndedAnEarlyAnsweredRequestIsNotTheNextHead() {
        // A head answered at once (404, 431): its end comes in the same read, after the answer.
        var state = Self.fresh()
        let started = state.requestStarted(continues: true)
        let answered = state.exchangeEnded(requestEnded: false, now: Self.start)
        #expect(started && answered == .none)
        let ended = Self.start + Self.second
        let dropped = state.droppedBodyEnded(now: ended)
        #expect(dropped == .nextRequest)
        state.readCompleted(now: ended, deliveredParts: true)
        #expect(state.phase == .awaitingHead(since: ended, .keptAlive), "still idle: the keep-alive timeout, not the head's")
        let atHeadTimeout = state.timerFired(now: ended + 60 * Self.second, lastRead: ended, bodyPending: false, readsHeldByUs: false)
        #expect(atHeadTimeout == .recheck(at: ended + Self.timeouts.keepAlive))
        let atKeepAlive = state.timerFired(now: ended + Self.timeouts.keepAlive, lastRead: ended, bodyPending: false, readsHeldByUs: false)
        #expect(atKeepAlive == .closeIdle, "closed quietly, with no 408 nobody asked for")
        // Bytes in a later read are a new head's.
        var next = Self.fresh()
        _ = next.requestStarted(continues: true)
        _ = next.exchangeEnded(requestEnded: false, now: Self.start)
        _ = next.droppedBodyEnded(now: ended)
        next.readCompleted(now: ended, deliveredParts: true)
        next.readCompleted(now: ended + Self.second, deliveredParts: false)
        #expect(next.phase == .awaitingHead(since: ended + Self.second, .partialHead))
    }

    @Test func aRequestThatDoesNotKeepAliveClosesAfterItsResponse() {
        var state = Self.fresh()
        let accepted = state.requestStarted(continues: false)
        #expect(accepted)
        #expect(state.closeAfterResponse)
        #expect(state.exchangeEnded(requestEnded: true, now: Self.start) == .closeAfterFlush)
        #expect(state.phase == .closing(awaitingBodyEnd: false, flushed: false))
        let servedWhileClosing = state.requestStarted(continues: true)
        #expect(!servedWhileClosing, "a head while closing is not served")
        #expect(state.flushed() == .closeNow)
    }

    @Test func theReplicaOrTheProxyCanAskForACloseMidExchange() {
        var state = Self.fresh()
        _ = state.requestStarted(continues: true)
        state.closeAfterThisResponse()
        #expect(state.exchangeEnded(requestEnded: true, now: Self.start) == .closeAfterFlush)
    }

    // MARK: Answers before the request ended

    @Test func anEarlyAnswerDropsTheRestOfTheBodyThenServesTheNextRequest() {
        var state = Self.fresh()
        _ = state.requestStarted(continues: true)
        #expect(state.exchangeEnded(requestEnded: false, now: Self.start) == .none)
        #expect(state.phase == .discarding)
        #expect(state.isServing)
        #expect(!state.isIdle)
        #expect(state.droppedBodyEnded(now: Self.start + Self.second) == .nextRequest)
        #expect(state.phase == .awaitingHead(since: Self.start + Self.second, .keptAlive))
    }

    @Test func anEarlyAnswerThatClosesLingersUntilTheBodyEndsOrTheAnswerIsOut() {
        // The body ends after our answer was flushed: close at once.
        var flushedFirst = Self.fresh()
        _ = flushedFirst.requestStarted(continues: true)
        flushedFirst.closeAfterThisResponse()
        #expect(flushedFirst.exchangeEnded(requestEnded: false, now: Self.start) == .closeAfterFlush)
        #expect(flushedFirst.flushed() == .halfCloseAndLinger)
        #expect(flushedFirst.droppedBodyEnded(now: Self.start) == .closeNow)
        #expect(flushedFirst.phase == .closed)

        // The body ends while our answer is still going out: close fully once it is out.
        var bodyFirst = Self.fresh()
        _ = bodyFirst.requestStarted(continues: true)
        bodyFirst.closeAfterThisResponse()
        _ = bodyFirst.exchangeEnded(requestEnded: false, now: Self.start)
        #expect(bodyFirst.droppedBodyEnded(now: Self.start) == .none)
        #expect(bodyFirst.flushed() == .closeNow)
    }

    // MARK: Bodies

    @Test func aClientPausingItsBodyTimesOutButNotWhenTheProxyHeldTheReads() {
        var state = Self.fresh()
        _ = state.requestStarted(continues: true)
        let lastRead = Self.start + Self.second
        let late = lastRead + 60 * Self.second
        #expect(state.timerFired(now: late, lastRead: lastRead, bodyPending: true, readsHeldByUs: true)
            == .recheck(at: late + 60 * Self.second))
        #expect(state.timerFired(now: late, lastRead: lastRead, bodyPending: false, readsHeldByUs: false)
            == .recheck(at: late + 60 * Self.second), "waiting for a response is not a slow client")
        #expect(state.timerFired(now: lastRead + 30 * Self.second, lastRead: lastRead, bodyPending: true, readsHeldByUs: false)
            == .recheck(at: lastRead + 60 * Self.second))
        #expect(state.timerFired(now: late, lastRead: lastRead, bodyPending: true, readsHeldByUs: false) == .bodyTimedOut)
    }

    @Test func aBodyBeingDroppedThatStopsClosesTheConnection() {
        var state = Self.fresh()
        _ = state.requestStarted(continues: true)
        _ = state.exchangeEnded(requestEnded: false, now: Self.start)
        #expect(state.timerFired(now: Self.start + 61 * Self.second, lastRead: Self.start, bodyPending: false, readsHeldByUs: false)
            == .bodyTimedOut)
        #expect(state.phase == .closed)
    }

    // MARK: Aborts

    @Test func anAbortClosesAfterWhatWasWrittenWhateverTheState() {
        var idle = Self.keptAlive()
        #expect(idle.abort() == .closeAfterFlush)
        #expect(idle.abort() == .none, "a flush is already under way")
        #expect(idle.flushed() == .closeNow)
        #expect(idle.abort() == .none)

        var lingering = Self.fresh()
        _ = lingering.requestStarted(continues: true)
        lingering.closeAfterThisResponse()
        _ = lingering.exchangeEnded(requestEnded: false, now: Self.start)
        _ = lingering.flushed()
        #expect(lingering.abort() == .closeNow, "an abort ends the linger")
    }

    @Test func aClosingConnectionIgnoresTimersAndLateEvents() {
        var state = Self.fresh()
        _ = state.abort()
        #expect(state.timerFired(now: .max / 2, lastRead: 0, bodyPending: true, readsHeldByUs: false) == .none)
        #expect(state.exchangeEnded(requestEnded: true, now: Self.start) == .none)
        #expect(state.droppedBodyEnded(now: Self.start) == .none)
        state.closed()
        #expect(state.flushed() == .none)
    }
}
