import KubernetesTargets
import Testing

/// Leader election on a Lease as client-go does it, on made-up times.
@Suite struct LeaseElectionTests {
    let timing = LeaseElection.Timing(leaseDuration: 15, renewDeadline: 10, retryPeriod: 2)

    func lease(_ holder: String?, renewed: String = "t0", version: String = "1", transitions: Int = 0) -> LeaseElection.Observed {
        LeaseElection.Observed(holder: holder, renewTime: renewed, transitions: transitions, resourceVersion: version)
    }

    @Test func theFirstReplicaCreatesTheLeaseAndLeads() {
        var a = LeaseElection(identity: "a", timing: timing)
        #expect(a.decide(nil, at: 0) == (.create, .none))
        #expect(a.wrote(true, at: 0) == .becameLeader)
        #expect(a.leads(at: 9.9))
        #expect(a.decide(lease("a", version: "2"), at: 2) == (.update(resourceVersion: "2", transitions: 0, acquiring: false), .none), "a renew")
    }

    @Test func aStandByWaitsAWholeLeaseDurationByItsOwnClockThenTakesOver() {
        var b = LeaseElection(identity: "b", timing: timing)
        #expect(b.decide(lease("a", renewed: "t0"), at: 100) == (.none, .none))
        #expect(b.decide(lease("a", renewed: "t1", version: "3"), at: 102) == (.none, .none), "renewed: the wait starts again")
        #expect(b.decide(lease("a", renewed: "t1", version: "3"), at: 116.9) == (.none, .none))
        #expect(b.decide(lease("a", renewed: "t1", version: "3", transitions: 4), at: 117) ==
                (.update(resourceVersion: "3", transitions: 5, acquiring: true), .none))
        #expect(b.wrote(true, at: 117) == .becameLeader)
    }

    @Test func aHandedBackLeaseIsTakenAtOnce() {
        var b = LeaseElection(identity: "b", timing: timing)
        #expect(b.decide(lease("", version: "9"), at: 5) == (.update(resourceVersion: "9", transitions: 1, acquiring: true), .none))
    }

    @Test func twoTakingOverAtOnceOnlyOneWins() {
        var b = LeaseElection(identity: "b", timing: timing)
        _ = b.decide(lease("a"), at: 0)
        _ = b.decide(lease("a"), at: 15)
        #expect(b.wrote(false, at: 15) == .none, "a 409: the other one's write came first")
        #expect(!b.isLeader)
    }

    @Test func aLeaderThatCannotRenewStopsAtItsRenewDeadlineBeforeAnyoneMayTakeOver() {
        var a = LeaseElection(identity: "a", timing: timing)
        _ = a.decide(nil, at: 0)
        _ = a.wrote(true, at: 0)
        #expect(a.wrote(false, at: 2) == .none, "one failed renew is retried")
        #expect(a.leads(at: 9.99))
        #expect(!a.leads(at: 10), "stops writing at the deadline, though the Lease is valid 5 s more")
        #expect(a.wrote(false, at: 10) == .lostLeadership)
        #expect(timing.renewDeadline < timing.leaseDuration)
    }

    @Test func aLeaderSeeingAnotherHolderStepsDown() {
        var a = LeaseElection(identity: "a", timing: timing)
        _ = a.decide(nil, at: 0)
        _ = a.wrote(true, at: 0)
        #expect(a.decide(lease("b", version: "7"), at: 2) == (.none, .lostLeadership))
    }

    /// Review findings: the lead ends at the last renew plus the deadline, whatever fails after it;
    /// and a stand-by waits out the holder's own lease duration when it is the longer one.
    @Test func theLeadEndsAtTheLastRenewPlusTheDeadlineAndTheHoldersDurationIsHonoured() {
        var a = LeaseElection(identity: "a", timing: timing)
        _ = a.decide(nil, at: 0)
        _ = a.wrote(true, at: 0)
        _ = a.wrote(false, at: 9.9)
        #expect(a.leadsUntil == 10, "a failure does not move it")
        var b = LeaseElection(identity: "b", timing: timing)
        let longer = LeaseElection.Observed(holder: "a", renewTime: "t0", transitions: 0, resourceVersion: "1", durationSeconds: 40)
        _ = b.decide(longer, at: 0)
        #expect(b.decide(longer, at: 20) == (.none, .none), "the holder's 40 s, not our 15 s")
        #expect(b.decide(longer, at: 40) == (.update(resourceVersion: "1", transitions: 1, acquiring: true), .none))
    }

    @Test func timingsThatCannotWorkAreRefused() {
        #expect(LeaseElection.Timing(leaseDuration: .infinity, renewDeadline: 10, retryPeriod: 2).problem != nil, "would trap converting to Int")
        #expect(LeaseElection.Timing(leaseDuration: 10, renewDeadline: 10, retryPeriod: 2).problem != nil)
        #expect(LeaseElection.Timing(leaseDuration: 15, renewDeadline: 2, retryPeriod: 2).problem != nil)
        #expect(LeaseElection.Timing().problem == nil)
    }
}
