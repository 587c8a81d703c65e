import ActivatorCore
import Testing
import ThawVocabulary

/// Every transition of one request's lifecycle, without sockets: what the proxy must do next.
@Suite struct ProxiedRequestStateTests {
    typealias Admission = TargetBalancer<Int>.Admission
    static let replica = EndpointAddress(host: "127.0.0.1", port: 9001)
    static let other = EndpointAddress(host: "127.0.0.1", port: 9002)

    static func request(idempotent: Bool = true) -> ProxiedRequestState {
        ProxiedRequestState(target: "digits", timeoutSeconds: 30, idempotent: idempotent)
    }

    /// A request forwarded at once and sent over a pooled connection.
    static func sending(idempotent: Bool = true, reused: Bool = true) -> ProxiedRequestState {
        var state = request(idempotent: idempotent)
        #expect(state.admitted(Admission.forward(replica)) == .connect(replica, fresh: false))
        let accepted = state.connected(reused: reused)
        #expect(accepted)
        return state
    }

    static func queued(ticket: UInt64 = 7) -> ProxiedRequestState {
        var state = request()
        #expect(state.admitted(Admission.queued(ticket: ticket, poke: true)) == .none)
        #expect(state.phase == .queued(ticket: ticket))
        return state
    }

    // MARK: The usual path

    @Test func aForwardedRequestConnectsSendsRespondsAndCompletesOntoThePool() {
        var state = Self.sending()
        #expect(state.phase == .sending(Self.replica))
        #expect(state.endpoint == Self.replica)
        state.requestBodyEnded()
        state.responseHead(status: 200)
        #expect(state.responseStatus == 200)
        #expect(state.responseEnded() == .complete(status: 200, Self.replica, poolConnection: true))
        #expect(state.isFinished)
        #expect(state.endpoint == nil)
    }

    @Test func aResponseThatEndsBeforeTheRequestBodyClosesTheReplicaConnection() {
        var state = Self.sending()
        state.responseHead(status: 413)
        #expect(state.responseEnded() == .complete(status: 413, Self.replica, poolConnection: false))
    }

    @Test func aRejectedAdmissionIsAnsweredWithItsStatusAndRetryAfter() {
        var full = Self.request()
        guard case .answer(let answer) = full.admitted(Admission.rejected(.queueFull(target: "digits", limit: 10))) else {
            Issue.record("expected an answer")
            return
        }
        #expect(answer.status == 503)
        #expect(answer.retryAfter == 1)
        #expect(answer.release == nil)
        #expect(full.isFinished)

        var failed = Self.request()
        guard case .answer(let failure) = failed.admitted(Admission.rejected(.targetFailed(target: "digits", reason: "CrashLoopBackOff"))) else {
            Issue.record("expected an answer")
            return
        }
        #expect(failure.retryAfter == 5)
        #expect(failure.message.contains("CrashLoopBackOff"))
    }

    @Test func aQueuedRequestGivenAnEndpointConnects() {
        var state = Self.queued()
        #expect(state.dispatched(.success(Self.replica)) == .connect(Self.replica, fresh: false))
        #expect(state.phase == .connecting(Self.replica))
    }

    @Test func aQueuedRequestTurnedAwayIsAnswered() {
        var state = Self.queued()
        guard case .answer(let answer) = state.dispatched(.failure(.shuttingDown(target: "digits"))) else {
            Issue.record("expected an answer")
            return
        }
        #expect(answer.status == 503)
        #expect(state.isFinished)
    }

    // MARK: Connects

    @Test func aFailedConnectAsksTheBalancerAgainAndCanBeForwardedElsewhere() {
        var state = Self.request()
        _ = state.admitted(Admission.forward(Self.replica))
        #expect(state.connectFailed() == .reroute(from: Self.replica))
        #expect(state.phase == .admitting)
        #expect(state.admitted(Admission.forward(Self.other)) == .connect(Self.other, fresh: false))
    }

    @Test func aStalledSendGoesAgainOnAFreshConnectionWhateverTheMethodAFewTimes() {
        var state = Self.sending(idempotent: false, reused: false)
        for _ in 0..<ProxiedRequestState.maxUnsentRetries {
            #expect(state.sendStalled() == .connect(Self.replica, fresh: true))
            let accepted = state.connected(reused: false)
            #expect(accepted)
        }
        guard case .answer(let answer) = state.sendStalled() else {
            Issue.record("expected an answer after the retries")
            return
        }
        #expect(answer.status == 502)
        #expect(answer.release == Self.replica)
        #expect(state.isFinished)
    }

    @Test func aStreamTheReplicaRefusedGoesBackToTheBalancerWhateverItCarries() {
        // HTTP/2's REFUSED_STREAM says the replica processed none of it (RFC 9113 §8.7).
        var state = Self.sending(idempotent: false, reused: false)
        #expect(state.replicaRefusedStream() == .reroute(from: Self.replica))
        #expect(state.phase == .admitting)
        #expect(state.admitted(Admission.forward(Self.other)) == .connect(Self.other, fresh: false))
        // Once the replica answered, a refusal is no longer possible and changes nothing.
        _ = state.connected(reused: false)
        state.responseHead(status: 200)
        #expect(state.replicaRefusedStream() == .none)
        #expect(state.responseStatus == 200)
    }

    @Test func aLateConnectionForAFinishedRequestIsNotUsed() {
        var state = Self.queued()
        _ = state.clientLeft()
        let accepted = state.connected(reused: false)
        #expect(!accepted)
    }

    // MARK: Replica failures

    @Test func aKeptAliveConnectionTheReplicaClosedIsRetriedOnceForABodilessIdempotentRequest() {
        var state = Self.sending(reused: true)
        #expect(state.replicaFailed("reset", hasBody: false) == .connect(Self.replica, fresh: true))
        let accepted = state.connected(reused: false)
        #expect(accepted)
        guard case .answer(let answer) = state.replicaFailed("reset", hasBody: false) else {
            Issue.record("a second failure is answered")
            return
        }
        #expect(answer.status == 502)
        #expect(answer.release == Self.replica)
    }

    @Test(arguments: [(true, true, true), (false, false, true), (false, true, false)])
    func noRetryWithABodyANonIdempotentMethodOrAFreshConnection(hasBody: Bool, idempotent: Bool, reused: Bool) {
        var state = Self.sending(idempotent: idempotent, reused: reused)
        guard case .answer(let answer) = state.replicaFailed("reset", hasBody: hasBody) else {
            Issue.record("expected 502")
            return
        }
        #expect(answer.status == 502)
        #expect(answer.message.contains("127.0.0.1:9001"))
    }

    @Test func aReplicaFailingMidResponseCutsTheClientOff() {
        var state = Self.sending()
        state.responseHead(status: 200)
        #expect(state.replicaFailed("reset", hasBody: false) == .abort(status: 200, release: Self.replica, closeClient: true))
        #expect(state.isFinished)
    }

    // MARK: The deadline, and its races

    @Test func theDeadlineWithdrawsAQueuedRequestWhichIsAnswered504() {
        var state = Self.queued(ticket: 3)
        #expect(state.deadlinePassed() == .withdraw(ticket: 3))
        guard case .answer(let answer) = state.withdrawnAfterDeadline(dequeued: true) else {
            Issue.record("expected 504")
            return
        }
        #expect(answer.status == 504)
        #expect(answer.release == nil)
        #expect(answer.message.contains("no replica could take the request"))
    }

    @Test func theDeadlineWhileAnEndpointIsHandedOverGivesItBackAndAnswers504() {
        var state = Self.queued(ticket: 3)
        _ = state.deadlinePassed()
        #expect(state.withdrawnAfterDeadline(dequeued: false) == .none)
        #expect(state.phase == .expiring)
        // A second timer firing changes nothing while the endpoint is on its way.
        #expect(state.deadlinePassed() == .none)
        guard case .answer(let answer) = state.dispatched(.success(Self.replica)) else {
            Issue.record("expected 504")
            return
        }
        #expect(answer.status == 504)
        #expect(answer.release == Self.replica)
        #expect(state.isFinished)
    }

    @Test func theDeadlineWhileConnectingOrSendingAnswers504AndGivesTheSlotBack() {
        var connecting = Self.request()
        _ = connecting.admitted(Admission.forward(Self.replica))
        for var state in [connecting, Self.sending()] {
            guard case .answer(let answer) = state.deadlinePassed() else {
                Issue.record("expected 504")
                continue
            }
            #expect(answer.status == 504)
            #expect(answer.release == Self.replica)
            #expect(answer.message.contains("the replica did not answer"))
            #expect(state.isFinished)
        }
    }

    @Test func theDeadlineMidResponseCutsTheClientOff() {
        var state = Self.sending()
        state.responseHead(status: 200)
        #expect(state.deadlinePassed() == .abort(status: 200, release: Self.replica, closeClient: true))
    }

    // MARK: The client's side

    @Test func aClientLeavingWhileQueuedWithdrawsAndALateEndpointIsGivenBack() {
        var state = Self.queued(ticket: 9)
        #expect(state.clientLeft() == .withdraw(ticket: 9))
        #expect(state.isFinished)
        #expect(state.dispatched(.success(Self.replica)) == .release(Self.replica))
        #expect(state.dispatched(.failure(.shuttingDown(target: "digits"))) == .none)
    }

    @Test func aClientLeavingWhileForwardedAbortsWith499() {
        var state = Self.sending()
        #expect(state.clientLeft() == .abort(status: 499, release: Self.replica, closeClient: false))
        #expect(state.clientLeft() == .none)
        #expect(state.responseEnded() == .none)
    }

    @Test func aBrokenBodyIsAnsweredBeforeTheResponseAndCutsItOffAfter() {
        var before = Self.sending()
        guard case .answer(let answer) = before.requestFailed(status: 400, message: "bad chunk") else {
            Issue.record("expected 400")
            return
        }
        #expect(answer == .init(status: 400, message: "bad chunk", reason: "bad_request", release: Self.replica))

        var queued = Self.queued(ticket: 4)
        guard case .answer(let queuedAnswer) = queued.requestFailed(status: 408, message: "slow") else {
            Issue.record("expected 408")
            return
        }
        #expect(queuedAnswer.withdraw == 4)

        var after = Self.sending()
        after.responseHead(status: 200)
        #expect(after.requestFailed(status: 400, message: "bad chunk") == .abort(status: 200, release: Self.replica, closeClient: true))
    }

    @Test func eventsOutOfTurnDoNothing() {
        var state = Self.request()
        #expect(state.responseEnded() == .none)
        #expect(state.connectFailed() == .none)
        #expect(state.sendStalled() == .none)
        #expect(state.replicaFailed("x", hasBody: false) == .none)
        let accepted = state.connected(reused: true)
        #expect(!accepted)
        state.responseHead(status: 200)
        #expect(state.responseStatus == nil)
        #expect(state.phase == .admitting)
    }
}
