import Testing

@testable import LocalDriver

/// The supervisor's sleep is cut short by a change, and a change made before the sleep is not lost.
@Suite struct ChangeSignalTests {
    @Test func aChangeWakesAWaiterLongBeforeItsTimeout() async {
        let changes = ChangeSignal()
        let started = ContinuousClock.now
        async let waited: Void = changes.wait(upTo: .seconds(30))
        try? await Task.sleep(for: .milliseconds(100))
        changes.signal()
        await waited
        // Woken, not timed out: far below the 30 s it would sleep otherwise (generous for a busy machine).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(changes.take(), "the change stays visible to the next take()")
        #expect(!changes.take())
    }

    @Test func aChangeBeforeTheWaitReturnsAtOnce() async {
        let changes = ChangeSignal()
        changes.signal()
        let started = ContinuousClock.now
        await changes.wait(upTo: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func withoutAChangeTheWaitLastsItsDuration() async {
        let changes = ChangeSignal()
        _ = changes.take()
        let started = ContinuousClock.now
        await changes.wait(upTo: .milliseconds(200))
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(!changes.take())
    }
}
