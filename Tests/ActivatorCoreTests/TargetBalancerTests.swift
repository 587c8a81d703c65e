import ActivatorCore
import Testing
import ThawVocabulary

private let a = EndpointAddress(host: "10.0.0.1", port: 8080)
private let b = EndpointAddress(host: "10.0.0.2", port: 8080)
private let c = EndpointAddress(host: "10.0.0.3", port: 8080)

private typealias Balancer = TargetBalancer<String>

extension TargetBalancer.Admission {
    var forwarded: EndpointAddress? {
        if case .forward(let endpoint) = self { return endpoint }
        return nil
    }

    var ticket: UInt64? {
        if case .queued(let ticket, _) = self { return ticket }
        return nil
    }

    var poke: Bool? {
        if case .queued(_, let poke) = self { return poke }
        return nil
    }

    var rejection: Rejection? {
        if case .rejected(let rejection) = self { return rejection }
        return nil
    }
}

private func pairs(_ dispatches: [Balancer.Dispatch]) -> [String] {
    dispatches.map { "\($0.waiter)->\($0.endpoint)" }
}

@Suite struct TargetBalancerTests {
    // MARK: Forwarding and capacity

    @Test func forwardsToTheLeastLoadedReadyEndpoint() throws {
        var balancer = Balancer(name: "mnist-v1", capacity: 0, queueLimit: 10, now: 0)
        _ = balancer.setReady([a, b])
        let first = try #require(balancer.admit("r1", now: 0).forwarded)
        let second = try #require(balancer.admit("r2", now: 0).forwarded)
        #expect(first != second)
        #expect(balancer.inFlight(at: a) == 1)
        #expect(balancer.inFlight(at: b) == 1)

        // Both at 1; after `first` finishes it is the only one at 0, so it gets the next request.
        _ = balancer.release(first, now: 1)
        #expect(balancer.inFlight(at: first) == 0)
        #expect(balancer.admit("r3", now: 1).forwarded == first)
        // Six more spread evenly: least-loaded never lets one endpoint get two ahead of the other.
        for index in 4...9 { _ = balancer.admit("r\(index)", now: 1) }
        #expect(balancer.inFlight(at: a) + balancer.inFlight(at: b) == 8)
        #expect(abs(balancer.inFlight(at: a) - balancer.inFlight(at: b)) <= 1)
    }

    @Test func proxiedRequestsAreMeasuredApartWhicheverWayTheyEnd() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 10, now: 0)
        _ = balancer.setReady([a])
        let forwarded = try #require(balancer.admit("p1", proxied: true, now: 0).forwarded)   // in flight 0–2 s
        let queued = try #require(balancer.admit("p2", proxied: true, now: 0).ticket)         // waits 0–1 s, then leaves
        _ = balancer.admit("d1", now: 0)                                                        // direct, waits 0–2 s
        #expect(balancer.cancel(ticket: queued, now: 1) == "p2")
        _ = balancer.release(forwarded, proxied: true, now: 2)
        let period = balancer.report(now: 2)
        #expect(period.requestCount == 3)
        #expect(period.proxiedRequestCount == 2)
        #expect(period.averageProxiedConcurrency == 1.5, "(2 s + 1 s) of proxied requests over 2 s")
        // The direct one got the endpoint after p1 and finishes: nothing proxied is left in flight.
        _ = balancer.release(a, now: 3)
        let next = balancer.report(now: 4)
        #expect(next.averageProxiedConcurrency == 0)
    }

    @Test func picksTheIdleEndpointAmongBusyOnes() throws {
        var balancer = Balancer(name: "t", capacity: 0, queueLimit: 10, now: 0)
        _ = balancer.setReady([a, b, c])
        var used: [EndpointAddress] = []
        for index in 0..<3 { used.append(try #require(balancer.admit("r\(index)", now: 0).forwarded)) }
        #expect(Set(used) == [a, b, c])
        _ = balancer.admit("r3", now: 0)
        _ = balancer.admit("r4", now: 0)
        // Two endpoints now have 2 in flight and one has 1; that one must get the next request.
        let lightest = try #require([a, b, c].first { balancer.inFlight(at: $0) == 1 })
        #expect(balancer.admit("r5", now: 0).forwarded == lightest)
    }

    @Test func neverExceedsCapacity() throws {
        var balancer = Balancer(name: "mnist-v1", capacity: 1, queueLimit: 10, now: 0)
        _ = balancer.setReady([a, b])
        let first = try #require(balancer.admit("r1", now: 0).forwarded)
        let second = try #require(balancer.admit("r2", now: 0).forwarded)
        #expect(Set([first, second]) == [a, b])

        let third = balancer.admit("r3", now: 0)
        #expect(third.ticket != nil)
        #expect(third.poke == false, "endpoints are ready, only busy: no poke")
        #expect(balancer.inFlight(at: a) == 1)
        #expect(balancer.inFlight(at: b) == 1)
        #expect(balancer.queueLength == 1)
        #expect(balancer.activeRequests == 3)
    }

    @Test func neverExceedsCapacityUnderMoreLoad() {
        var balancer = Balancer(name: "t", capacity: 2, queueLimit: 100, now: 0)
        _ = balancer.setReady([a, b, c])
        var forwarded = 0
        var queued = 0
        for index in 0..<10 {
            let admission = balancer.admit("r\(index)", now: 0)
            if admission.forwarded != nil { forwarded += 1 }
            if admission.ticket != nil { queued += 1 }
        }
        #expect(forwarded == 6)
        #expect(queued == 4)
        for endpoint in [a, b, c] { #expect(balancer.inFlight(at: endpoint) == 2) }
        // Every release hands exactly one waiter the freed slot, never more.
        let dispatched = balancer.release(b, now: 1)
        #expect(pairs(dispatched) == ["r6->\(b)"])
        #expect(balancer.inFlight(at: b) == 2)
    }

    @Test func zeroCapacityMeansUnlimited() {
        var balancer = Balancer(name: "t", capacity: 0, queueLimit: 0, now: 0)
        _ = balancer.setReady([a])
        for index in 0..<50 {
            #expect(balancer.admit("r\(index)", now: 0).forwarded == a)
        }
        #expect(balancer.inFlight(at: a) == 50)
        #expect(balancer.queueLength == 0)
    }

    // MARK: Queueing

    @Test func releaseDispatchesWaitersInArrivalOrder() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 10, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("first", now: 0).forwarded == a)
        for name in ["w1", "w2", "w3"] { #expect(balancer.admit(name, now: 0).ticket != nil) }
        #expect(balancer.queueLength == 3)

        #expect(pairs(balancer.release(a, now: 1)) == ["w1->\(a)"])
        #expect(pairs(balancer.release(a, now: 2)) == ["w2->\(a)"])
        #expect(pairs(balancer.release(a, now: 3)) == ["w3->\(a)"])
        #expect(balancer.queueLength == 0)
        #expect(balancer.release(a, now: 4).isEmpty)
        #expect(balancer.inFlight(at: a) == 0)
        #expect(balancer.activeRequests == 0)
    }

    @Test func ticketsAreDistinct() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 10, now: 0)
        let tickets = try (0..<5).map { try #require(balancer.admit("w\($0)", now: 0).ticket) }
        #expect(Set(tickets).count == 5)
    }

    @Test func newRequestsWaitBehindQueuedOnes() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 10, now: 0)
        _ = balancer.admit("w1", now: 0)
        _ = balancer.admit("w2", now: 0)
        #expect(pairs(balancer.setReady([a])) == ["w1->\(a)"])
        // A slot frees while w2 waits: w2 gets it, not a newcomer.
        #expect(pairs(balancer.release(a, now: 1)) == ["w2->\(a)"])
        #expect(balancer.admit("late", now: 1).ticket != nil)
    }

    @Test func fullQueueRejectsWith503() throws {
        var balancer = Balancer(name: "mnist-v1", capacity: 1, queueLimit: 2, now: 0)
        #expect(balancer.admit("w1", now: 0).ticket != nil)
        #expect(balancer.admit("w2", now: 0).ticket != nil)
        let rejection = try #require(balancer.admit("w3", now: 0).rejection)
        #expect(rejection == .queueFull(target: "mnist-v1", limit: 2))
        #expect(rejection.status == 503)
        #expect(balancer.queueLength == 2)
        #expect(balancer.activeRequests == 2, "a rejected request is not held")
    }

    @Test func zeroQueueLimitRejectsWhenNoSlotIsFree() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 0, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("r1", now: 0).forwarded == a)
        #expect(try #require(balancer.admit("r2", now: 0).rejection) == .queueFull(target: "t", limit: 0))
    }

    // MARK: Pokes

    @Test func pokesForTheFirstWaiterThenAtMostOncePerInterval() {
        #expect(Balancer.pokeInterval == 1)
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 10)
        #expect(balancer.admit("w1", now: 10).poke == true)
        #expect(balancer.admit("w2", now: 10.5).poke == false)
        #expect(balancer.admit("w3", now: 10.999).poke == false)
        #expect(balancer.admit("w4", now: 11).poke == true)
        #expect(balancer.admit("w5", now: 11.5).poke == false)
        #expect(balancer.admit("w6", now: 12.25).poke == true)
        #expect(balancer.queueLength == 6)
    }

    @Test func pokesAgainAtOnceWhenTheQueueHadEmptied() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        let ticket = try #require(balancer.admit("w1", now: 0).ticket)
        #expect(balancer.cancel(ticket: ticket, now: 0.1) == "w1")
        #expect(balancer.admit("w2", now: 0.2).poke == true)
    }

    @Test func noPokeWhileEndpointsAreReady() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        _ = balancer.admit("r1", now: 0)
        #expect(balancer.admit("w1", now: 0).poke == false)
        #expect(balancer.admit("w2", now: 5).poke == false)
    }

    // MARK: Readiness

    @Test func setReadyDispatchesWaitersInArrivalOrderUpToCapacity() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        for name in ["w1", "w2", "w3"] { _ = balancer.admit(name, now: 0) }
        let dispatched = balancer.setReady([a, b])
        #expect(dispatched.map(\.waiter) == ["w1", "w2"])
        #expect(Set(dispatched.map(\.endpoint)) == [a, b])
        #expect(balancer.queueLength == 1)
        #expect(balancer.readyEndpoints == [a, b])
        #expect(balancer.activeRequests == 3)

        let endpointOfW1 = dispatched[0].endpoint
        #expect(pairs(balancer.release(endpointOfW1, now: 1)) == ["w3->\(endpointOfW1)"])
    }

    @Test func setReadyKeepsInFlightCountsOfEndpointsThatStay() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("r1", now: 0).forwarded == a)
        #expect(balancer.setReady([a, b]).isEmpty)
        #expect(balancer.inFlight(at: a) == 1)
        // a is still full, so the next request must go to b, and the one after waits.
        #expect(balancer.admit("r2", now: 0).forwarded == b)
        #expect(balancer.admit("r3", now: 0).ticket != nil)
    }

    @Test func endpointLeavingReadySetGetsNoMoreTraffic() {
        var balancer = Balancer(name: "t", capacity: 0, queueLimit: 100, now: 0)
        _ = balancer.setReady([a, b])
        _ = balancer.setReady([b])
        for index in 0..<5 { #expect(balancer.admit("r\(index)", now: 0).forwarded == b) }
        _ = balancer.setReady([])
        #expect(balancer.admit("w", now: 0).ticket != nil)
    }

    // MARK: Cancel

    @Test func cancelRemovesAQueuedWaiterAndKeepsTheOthersInOrder() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        let t1 = try #require(balancer.admit("w1", now: 0).ticket)
        let t2 = try #require(balancer.admit("w2", now: 0).ticket)
        let t3 = try #require(balancer.admit("w3", now: 0).ticket)
        #expect(balancer.activeRequests == 3)

        #expect(balancer.cancel(ticket: t2, now: 1) == "w2")
        #expect(balancer.queueLength == 2)
        #expect(balancer.activeRequests == 2)
        #expect(balancer.cancel(ticket: t2, now: 1) == nil, "a second cancel finds nothing")

        let dispatched = balancer.setReady([a, b])
        #expect(dispatched.map(\.waiter) == ["w1", "w3"])
        // Already dispatched: nil, and the caller keeps the endpoint to release.
        #expect(balancer.cancel(ticket: t1, now: 2) == nil)
        #expect(balancer.cancel(ticket: t3, now: 2) == nil)
        #expect(balancer.activeRequests == 2)
        #expect(balancer.cancel(ticket: 999, now: 2) == nil)
    }

    // MARK: Failure

    @Test func failureWithNoReadyEndpointHandsBackWaitersAndRejectsNewOnes() throws {
        var balancer = Balancer(name: "mnist-v2", capacity: 1, queueLimit: 100, now: 0)
        for name in ["w1", "w2", "w3"] { _ = balancer.admit(name, now: 0) }
        let reason = "CrashLoopBackOff: exit code 137"

        #expect(balancer.setFailure(reason, now: 1) == ["w1", "w2", "w3"])
        #expect(balancer.failure == reason)
        #expect(balancer.queueLength == 0)
        #expect(balancer.activeRequests == 0)

        let rejection = try #require(balancer.admit("new", now: 2).rejection)
        #expect(rejection == .targetFailed(target: "mnist-v2", reason: reason))
        #expect(rejection.status == 503)
        #expect(rejection.description.contains(reason))
        #expect(rejection.description.contains("mnist-v2"))
        #expect(balancer.activeRequests == 0)
        #expect(balancer.queueLength == 0)
    }

    @Test func clearingTheFailureQueuesAgain() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        #expect(balancer.setFailure("boom", now: 0).isEmpty)
        #expect(balancer.admit("r", now: 0).rejection != nil)
        #expect(balancer.setFailure(nil, now: 1).isEmpty)
        #expect(balancer.failure == nil)
        let admission = balancer.admit("w", now: 1)
        #expect(admission.ticket != nil)
        #expect(admission.poke == true)
    }

    @Test func failureIsIgnoredWhileAnEndpointIsReady() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("r1", now: 0).forwarded == a)
        #expect(balancer.admit("w1", now: 0).ticket != nil)
        #expect(balancer.setFailure("flaky", now: 1).isEmpty)
        #expect(balancer.queueLength == 1)
        #expect(balancer.admit("w2", now: 1).ticket != nil)
        #expect(pairs(balancer.release(a, now: 2)) == ["w1->\(a)"])
    }

    // MARK: Reroute

    @Test func rerouteDropsTheFailedEndpointAndForwardsElsewhere() throws {
        var balancer = Balancer(name: "t", capacity: 0, queueLimit: 100, now: 0)
        _ = balancer.setReady([a, b])
        let first = try #require(balancer.admit("r1", now: 0).forwarded)
        let other = first == a ? b : a

        #expect(balancer.reroute("r1", from: first, now: 0.1).forwarded == other)
        #expect(balancer.readyEndpoints == [other])
        #expect(balancer.inFlight(at: first) == 0)
        #expect(balancer.inFlight(at: other) == 1)
        #expect(balancer.activeRequests == 1, "a rerouted request is still the same request")
        // The failed endpoint gets nothing more until it is ready again.
        for index in 2...4 { #expect(balancer.admit("r\(index)", now: 0.2).forwarded == other) }
    }

    @Test func rerouteWithNoOtherEndpointRequeuesAtTheFront() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("w1", now: 0).forwarded == a)
        #expect(balancer.admit("w2", now: 0).ticket != nil)

        let rerouted = balancer.reroute("w1", from: a, now: 0.5)
        #expect(rerouted.ticket != nil)
        #expect(rerouted.poke == true, "no endpoint is ready any more")
        #expect(balancer.queueLength == 2)
        #expect(balancer.readyEndpoints.isEmpty)
        #expect(balancer.activeRequests == 2)

        // w1 was waiting longest: it goes first, ahead of w2.
        #expect(pairs(balancer.setReady([b])) == ["w1->\(b)"])
        #expect(pairs(balancer.release(b, now: 1)) == ["w2->\(b)"])
    }

    @Test func rerouteToAFailedTargetRejects() throws {
        var balancer = Balancer(name: "mnist-v1", capacity: 0, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("r1", now: 0).forwarded == a)
        _ = balancer.setFailure("image pull failed", now: 0)
        let rejection = try #require(balancer.reroute("r1", from: a, now: 1).rejection)
        #expect(rejection == .targetFailed(target: "mnist-v1", reason: "image pull failed"))
        #expect(balancer.activeRequests == 0)
    }

    // MARK: Limits

    @Test func raisingCapacityDispatchesWaiters() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        #expect(balancer.admit("r1", now: 0).forwarded == a)
        for name in ["w1", "w2", "w3"] { _ = balancer.admit(name, now: 0) }

        #expect(pairs(balancer.setLimits(capacity: 3, queueLimit: 100)) == ["w1->\(a)", "w2->\(a)"])
        #expect(balancer.capacity == 3)
        #expect(balancer.inFlight(at: a) == 3)
        #expect(balancer.queueLength == 1)
        #expect(pairs(balancer.setLimits(capacity: 0, queueLimit: 100)) == ["w3->\(a)"])
        #expect(balancer.queueLength == 0)
    }

    @Test func loweringTheQueueLimitKeepsWaitersButRejectsNewOnes() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        for name in ["w1", "w2", "w3"] { _ = balancer.admit(name, now: 0) }
        #expect(balancer.setLimits(capacity: 1, queueLimit: 1).isEmpty)
        #expect(balancer.queueLimit == 1)
        #expect(balancer.queueLength == 3)
        #expect(try #require(balancer.admit("w4", now: 0).rejection) == .queueFull(target: "t", limit: 1))
        #expect(balancer.setReady([a]).map(\.waiter) == ["w1"])
    }

    @Test func removeAllWaitingHandsBackEveryWaiter() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.setReady([a])
        _ = balancer.admit("r1", now: 0)
        for name in ["w1", "w2"] { _ = balancer.admit(name, now: 0) }
        #expect(balancer.removeAllWaiting(now: 1) == ["w1", "w2"])
        #expect(balancer.queueLength == 0)
        #expect(balancer.activeRequests == 1)
    }

    // MARK: Stats

    @Test func reportCountsQueuedRequestsTimeWeighted() throws {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        let t1 = try #require(balancer.admit("w1", now: 0).ticket)
        let t2 = try #require(balancer.admit("w2", now: 0).ticket)
        #expect(balancer.activeRequests == 2)
        _ = balancer.cancel(ticket: t1, now: 0.5)
        _ = balancer.cancel(ticket: t2, now: 0.5)

        let period = balancer.report(now: 1)
        #expect(period.averageConcurrency == 1.0)
        #expect(period.requestCount == 2)
        #expect(period.averageProxiedConcurrency == 0)
        #expect(period.proxiedRequestCount == 0)

        let next = balancer.report(now: 2)
        #expect(next.isIdle)
        #expect(next.requestCount == 0)
    }

    @Test func reportCountsARequestOnceFromQueueToRelease() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 100, now: 0)
        _ = balancer.admit("w1", now: 0)
        #expect(balancer.setReady([a]).map(\.waiter) == ["w1"])
        #expect(balancer.activeRequests == 1)
        _ = balancer.release(a, now: 0.75)
        #expect(balancer.activeRequests == 0)

        let period = balancer.report(now: 1)
        #expect(period.averageConcurrency == 0.75)
        #expect(period.requestCount == 1)
    }

    @Test func reportCountsForwardedRequestsAndCarriesInFlightOnes() {
        var balancer = Balancer(name: "t", capacity: 0, queueLimit: 100, now: 0)
        _ = balancer.setReady([a, b])
        _ = balancer.admit("r1", now: 0.25)
        _ = balancer.admit("r2", now: 0.5)
        _ = balancer.release(a, now: 0.75)

        // r1/r2 overlap: one held 0.25..0.5, two 0.5..0.75, one 0.75..1.
        let first = balancer.report(now: 1)
        #expect(first.averageConcurrency == 1.0)
        #expect(first.requestCount == 2)

        // The one still in flight counts in the next period, but is not a new arrival.
        let second = balancer.report(now: 2)
        #expect(second.averageConcurrency == 1.0)
        #expect(second.requestCount == 0)
        #expect(!second.isIdle)
    }

    @Test func rejectedRequestsAreNotHeld() {
        var balancer = Balancer(name: "t", capacity: 1, queueLimit: 0, now: 0)
        _ = balancer.admit("r1", now: 0)
        #expect(balancer.activeRequests == 0)
        #expect(balancer.report(now: 1).averageConcurrency == 0)
    }
}

@Suite struct RejectionTests {
    @Test func statusCodes() {
        #expect(Rejection.queueFull(target: "t", limit: 5).status == 503)
        #expect(Rejection.targetFailed(target: "t", reason: "r").status == 503)
        #expect(Rejection.shuttingDown(target: "t").status == 503)
        #expect(Rejection.timedOut(target: "t", seconds: 300, queued: true).status == 504)
        #expect(Rejection.timedOut(target: "t", seconds: 300, queued: false).status == 504)
    }

    @Test func descriptionsNameTheTargetAndTheCause() {
        let full = Rejection.queueFull(target: "mnist-v1", limit: 10_000).description
        #expect(full.contains("target mnist-v1"))
        #expect(full.contains("10000"))
        #expect(full.contains("queueLimit"))

        let failed = Rejection.targetFailed(target: "mnist-v2", reason: "CrashLoopBackOff").description
        #expect(failed.contains("target mnist-v2"))
        #expect(failed.contains("CrashLoopBackOff"))

        let queued = Rejection.timedOut(target: "mnist-v1", seconds: 300, queued: true).description
        #expect(queued.contains("target mnist-v1"))
        #expect(queued.contains("300 s"))
        #expect(queued.contains("timeoutSeconds"))
        #expect(queued.contains("no replica"))

        let upstream = Rejection.timedOut(target: "mnist-v1", seconds: 2.5, queued: false).description
        #expect(upstream.contains("target mnist-v1"))
        #expect(upstream.contains("2.5 s"))
        #expect(upstream.contains("did not answer"))
        #expect(upstream != Rejection.timedOut(target: "mnist-v1", seconds: 2.5, queued: true).description)

        let shutdown = Rejection.shuttingDown(target: "mnist-v1").description
        #expect(shutdown.contains("target mnist-v1"))
        #expect(shutdown.contains("shutting down"))
    }
}
