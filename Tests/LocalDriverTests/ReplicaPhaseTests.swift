import Testing

@testable import LocalDriver

/// The stop sequence of a local replica, on made-up times: no process, no socket.
@Suite struct ReplicaPhaseTests {
    let t0 = ContinuousClock.now
    let drainLimit = Duration.seconds(12)

    @Test func aStopUnpublishesThenDrainsTheSidecarThenStopsTheModel() {
        var phase = ReplicaPhase.ready
        phase.stop(at: t0)
        #expect(phase == .unpublished(since: t0))
        // The routes get a moment to drop the replica before its sidecar hears anything.
        #expect(phase.advance(at: t0 + .milliseconds(49), sidecarExited: false, modelExited: false, drainLimit: drainLimit).isEmpty)
        let signalled = t0 + .milliseconds(50)
        #expect(phase.advance(at: signalled, sidecarExited: false, modelExited: false, drainLimit: drainLimit) == [.terminate(.sidecar)])
        #expect(phase == .drainingSidecar(since: signalled, killed: false))
        // While the sidecar drains, the model server keeps serving it.
        #expect(phase.advance(at: signalled + .seconds(3), sidecarExited: false, modelExited: false, drainLimit: drainLimit).isEmpty)
        let drained = signalled + .seconds(4)
        #expect(phase.advance(at: drained, sidecarExited: true, modelExited: false, drainLimit: drainLimit) == [.terminate(.model)])
        #expect(phase == .stoppingModel(since: drained, killed: false))
        // The model server exits: its group is cleared of anything it left behind, once.
        #expect(phase.advance(at: drained + .seconds(1), sidecarExited: true, modelExited: true, drainLimit: drainLimit)
                == [.kill(.model, overdue: false)])
        #expect(phase.advance(at: drained + .seconds(2), sidecarExited: true, modelExited: true, drainLimit: drainLimit).isEmpty)
    }

    @Test func aSidecarPastItsDrainLimitIsKilledOnceAndTheModelThenStops() {
        var phase = ReplicaPhase.drainingSidecar(since: t0, killed: false)
        #expect(phase.advance(at: t0 + drainLimit, sidecarExited: false, modelExited: false, drainLimit: drainLimit).isEmpty)
        let late = t0 + drainLimit + .milliseconds(1)
        #expect(phase.advance(at: late, sidecarExited: false, modelExited: false, drainLimit: drainLimit) == [.kill(.sidecar, overdue: true)])
        #expect(phase.advance(at: late + .seconds(1), sidecarExited: false, modelExited: false, drainLimit: drainLimit).isEmpty)
        #expect(phase.advance(at: late + .seconds(2), sidecarExited: true, modelExited: false, drainLimit: drainLimit) == [.terminate(.model)])
    }

    @Test func aModelServerThatIgnoresSIGTERMIsKilledAfterItsLimit() {
        var phase = ReplicaPhase.stoppingModel(since: t0, killed: false)
        #expect(phase.advance(at: t0 + ReplicaPhase.modelStopLimit, sidecarExited: true, modelExited: false, drainLimit: drainLimit).isEmpty)
        #expect(phase.advance(at: t0 + ReplicaPhase.modelStopLimit + .milliseconds(1), sidecarExited: true, modelExited: false,
                              drainLimit: drainLimit) == [.kill(.model, overdue: true)])
        #expect(phase == .stoppingModel(since: t0, killed: true))
        #expect(phase.advance(at: t0 + .seconds(60), sidecarExited: true, modelExited: true, drainLimit: drainLimit).isEmpty)
    }

    @Test func aSidecarAlreadyGoneSkipsStraightToTheModelServer() {
        var phase = ReplicaPhase.starting
        phase.stop(at: t0)
        // Both steps that can happen now happen in one call: SIGTERM, and the group cleared.
        #expect(phase.advance(at: t0, sidecarExited: true, modelExited: true, drainLimit: drainLimit)
                == [.terminate(.model), .kill(.model, overdue: false)])
    }

    @Test func aStopInProgressKeepsItsProgressAndAKilledReplicaOnlyWaitsToBeReaped() {
        var phase = ReplicaPhase.drainingSidecar(since: t0, killed: false)
        phase.stop(at: t0 + .seconds(5))
        #expect(phase == .drainingSidecar(since: t0, killed: false))
        #expect(phase.kill() == [.kill(.model, overdue: false), .kill(.sidecar, overdue: false)])
        #expect(phase == .killed)
        phase.stop(at: t0 + .seconds(6))
        #expect(phase.advance(at: t0 + .seconds(60), sidecarExited: false, modelExited: false, drainLimit: drainLimit).isEmpty)
        #expect(!phase.isReady && !phase.isStarting)
    }
}

extension ReplicaPhaseTests {
    /// A model server that dies while its sidecar still drains: whatever it started goes at once
    /// (its group is killed), once, and the sidecar still drains to the end.
    @Test func aModelServerThatDiesMidStopHasItsGroupClearedOnce() {
        var phase = ReplicaPhase.drainingSidecar(since: t0, killed: false)
        #expect(phase.advance(at: t0 + .seconds(1), sidecarExited: false, modelExited: true, drainLimit: drainLimit)
                == [.kill(.model, overdue: false)])
        #expect(phase.advance(at: t0 + .seconds(2), sidecarExited: false, modelExited: true, drainLimit: drainLimit).isEmpty)
        // The sidecar exits: the model server is signalled as usual, but its group is not killed twice.
        #expect(phase.advance(at: t0 + .seconds(3), sidecarExited: true, modelExited: true, drainLimit: drainLimit)
                == [.terminate(.model)])
        #expect(phase.advance(at: t0 + .seconds(9), sidecarExited: true, modelExited: true, drainLimit: drainLimit).isEmpty)

        var early = ReplicaPhase.ready
        early.stop(at: t0)
        #expect(early.advance(at: t0 + .milliseconds(10), sidecarExited: false, modelExited: true, drainLimit: drainLimit)
                == [.kill(.model, overdue: false)])
        #expect(early.advance(at: t0 + .milliseconds(60), sidecarExited: false, modelExited: true, drainLimit: drainLimit)
                == [.terminate(.sidecar)])
    }
}

@Suite struct NotReadyReplicaPhaseTests {
    @Test func aReplicaOutOfRotationStillStopsGracefully() {
        let now = ContinuousClock.now
        var phase = ReplicaPhase.notReady
        #expect(!phase.isReady && !phase.isStarting)
        phase.stop(at: now)
        #expect(phase == .unpublished(since: now), "it keeps running until asked to stop, then stops like any other")
    }
}
