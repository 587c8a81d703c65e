@testable import LocalDriver
import Testing
import ThawVocabulary

/// The readiness probe's timing as a kubelet applies it, without processes or sockets.
@Suite struct ReadinessTrackerTests {
    let start = ContinuousClock.now
    let timing = ProbeTiming(initialDelay: .seconds(5), period: .seconds(2), timeout: .seconds(1), failureThreshold: 3)

    @Test func nothingIsRoutedOrProbedBeforeTheInitialDelay() {
        let tracker = ReadinessTracker(timing: timing, started: start)
        #expect(!tracker.isPastInitialDelay(at: start + .seconds(4.9)))
        #expect(tracker.isPastInitialDelay(at: start + .seconds(5)))
        #expect(!tracker.isProbeDue(at: start + .seconds(60)), "a starting replica is probed through its sidecar, not on the period")
    }

    @Test func aReadyReplicaLeavesRotationOnlyAfterTheThresholdOfFailuresInARow() {
        var tracker = ReadinessTracker(timing: timing, started: start)
        tracker.started(at: start + .seconds(6))
        #expect(!tracker.isProbeDue(at: start + .seconds(7.9)))
        #expect(tracker.isProbeDue(at: start + .seconds(8)), "one period after it became ready")
        #expect(tracker.record(passed: false, at: start + .seconds(8)) == .none)
        #expect(tracker.record(passed: false, at: start + .seconds(10)) == .none)
        #expect(tracker.record(passed: true, at: start + .seconds(12)) == .none, "a pass resets the count")
        #expect(tracker.record(passed: false, at: start + .seconds(14)) == .none)
        #expect(tracker.record(passed: false, at: start + .seconds(16)) == .none)
        #expect(tracker.record(passed: false, at: start + .seconds(18)) == .becameNotReady(failures: 3))
        #expect(!tracker.ready)
        #expect(tracker.record(passed: false, at: start + .seconds(20)) == .none, "said once, not every period")
        #expect(tracker.isProbeDue(at: start + .seconds(22)), "a replica out of rotation is still probed")
        #expect(tracker.record(passed: true, at: start + .seconds(22)) == .becameReady)
        #expect(tracker.ready)
        #expect(tracker.nextProbe == start + .seconds(24))
    }

    @Test func aThresholdOfOneTakesItOutOnTheFirstFailure() {
        var tracker = ReadinessTracker(timing: ProbeTiming(period: .seconds(1), failureThreshold: 1), started: start)
        tracker.started(at: start)
        #expect(tracker.record(passed: false, at: start + .seconds(1)) == .becameNotReady(failures: 1))
    }
}
