import ActivatorCore
import Testing
import ThawVocabulary

/// A newly ready endpoint is ramped up, as TCP's slow start does, instead of taking the whole queue at once.
@Suite struct SlowStartTests {
    typealias Balancer = TargetBalancer<Int>
    static let fresh = EndpointAddress(host: "10.0.0.1", port: 8080)
    static let second = EndpointAddress(host: "10.0.0.2", port: 8080)

    /// A balancer with `waiting` requests queued at zero replicas.
    static func atZero(capacity: Int = 0, waiting: Int) -> Balancer {
        var balancer = Balancer(name: "digits", capacity: capacity, queueLimit: 1000, now: 0, initialWindow: 4)
        for index in 0..<waiting { _ = balancer.admit(index, now: 0) }
        return balancer
    }

    @Test func aQueueReleasedOntoANewEndpointGoesOutFourAtATimeThenTwoPerAnswer() {
        var balancer = Self.atZero(waiting: 200)
        let first = balancer.setReady([Self.fresh])
        #expect(first.map(\.waiter) == [0, 1, 2, 3])
        #expect(balancer.window(at: Self.fresh) == 4)
        // Each answer frees a slot and widens the window by one: two more go out, never a burst.
        let next = balancer.release(Self.fresh, now: 1)
        #expect(next.map(\.waiter) == [4, 5])
        #expect(balancer.inFlight(at: Self.fresh) == 5)
        #expect(balancer.window(at: Self.fresh) == 5)
    }

    @Test func theWindowDoublesEachRoundUntilTheCeilingThenSlowStartIsOver() {
        var balancer = Self.atZero(waiting: 1000)
        var inFlight = balancer.setReady([Self.fresh]).count
        var rounds = 0
        while balancer.window(at: Self.fresh) != nil {
            var released = 0
            for _ in 0..<inFlight { released += balancer.release(Self.fresh, now: 1).count }
            inFlight = released
            rounds += 1
        }
        #expect(rounds == 5, "4, 8, 16, 32, 64, then past 128")
        // Over: the endpoint has proven it takes 128 at once, and capacity is unlimited, so the rest go.
        #expect(balancer.queueLength == 0)
        #expect(balancer.admit(1000, now: 2).forwardedTo == Self.fresh)
    }

    @Test func aSmallCapacityNeedsNoSlowStartAndALargerOneEndsItsRampAtTheCapacity() {
        var small = Self.atZero(capacity: 2, waiting: 10)
        #expect(small.setReady([Self.fresh]).count == 2)
        #expect(small.window(at: Self.fresh) == nil)

        var large = Self.atZero(capacity: 6, waiting: 10)
        #expect(large.setReady([Self.fresh]).count == 4)
        _ = large.release(Self.fresh, now: 1)
        _ = large.release(Self.fresh, now: 1)
        #expect(large.window(at: Self.fresh) == nil, "window 6 reached the capacity")
        #expect(large.inFlight(at: Self.fresh) == 6)
    }

    @Test func newRequestsOverflowToAWarmEndpointInsteadOfWaitingForTheNewOne() {
        var balancer = Balancer(name: "digits", capacity: 0, queueLimit: 10, now: 0, initialWindow: 4)
        _ = balancer.setReady([Self.second])
        for _ in 0..<Balancer.windowCeiling { _ = balancer.release(Self.second, now: 0) }
        _ = balancer.setReady([Self.second, Self.fresh])
        var toFresh = 0
        for index in 0..<20 where balancer.admit(index, now: 0).forwardedTo == Self.fresh { toFresh += 1 }
        #expect(toFresh == 4, "the new endpoint takes its window, the warm one the rest")
    }

    @Test func anEndpointThatStaysReadyKeepsItsWindowAcrossReadySetChanges() {
        var balancer = Self.atZero(waiting: 10)
        _ = balancer.setReady([Self.fresh])
        _ = balancer.release(Self.fresh, now: 1)
        _ = balancer.setReady([Self.fresh, Self.second])
        #expect(balancer.window(at: Self.fresh) == 5)
        #expect(balancer.window(at: Self.second) == 4)
    }

    @Test func withoutAnInitialWindowANewEndpointTakesItsCapacityAtOnce() {
        var balancer = Balancer(name: "digits", capacity: 0, queueLimit: 1000, now: 0)
        for index in 0..<50 { _ = balancer.admit(index, now: 0) }
        #expect(balancer.setReady([Self.fresh]).count == 50)
    }
}

private extension TargetBalancer.Admission {
    var forwardedTo: EndpointAddress? {
        if case .forward(let endpoint) = self { return endpoint }
        return nil
    }
}
