@testable import Activator
import Testing
import ThawVocabulary

/// What the readiness prober takes from a target per round: at most what room is left, and nothing,
/// without the target's lock, once every endpoint is ready or being probed. (An activator that
/// learned 30,000 endpoints at once started 30,000 probes together and fell over; make bench-kubernetes.)
@Suite struct ProbeSchedulingTests {
    static func target(endpoints: Int) -> TargetRuntime {
        let config = TargetConfig(name: "ml/a", endpoints: (0..<endpoints).map { EndpointAddress(host: "10.0.\($0 / 250).\($0 % 250)", port: 8012) },
                                  readinessPath: "/ready")
        return TargetRuntime(config: config, metrics: ActivatorMetrics().target("ml/a"), pokes: nil, slowStartWindow: 0)
    }

    @Test func aRoundTakesAtMostTheRoomLeftAndTheNextGoesOnFromThere() {
        let target = Self.target(endpoints: 600)
        let first = target.endpointsToProbe(limit: 256).endpoints
        let second = target.endpointsToProbe(limit: 256).endpoints
        let third = target.endpointsToProbe(limit: 256).endpoints
        #expect((first.count, second.count, third.count) == (256, 256, 88))
        #expect(Set(first + second + third).count == 600, "each endpoint once")
        #expect(target.endpointsToProbe(limit: 256).endpoints.isEmpty, "all in flight")
    }

    @Test func aFailedProbeMakesItsEndpointDueAgainAndAPassedOneDoesNot() {
        let target = Self.target(endpoints: 2)
        let due = target.endpointsToProbe().endpoints
        target.probeFinished(due[0], ready: true)
        target.probeFinished(due[1], ready: false)
        #expect(target.endpointsToProbe().endpoints == [due[1]])
        target.probeFinished(due[1], ready: true)
        #expect(target.endpointsToProbe().endpoints.isEmpty)
        #expect(target.hasReadyEndpoint)
        // New routes with a new endpoint: it is due, the ready ones are not probed again.
        var config = TargetConfig(name: "ml/a", endpoints: due + [EndpointAddress(host: "10.9.9.9", port: 8012)], readinessPath: "/ready")
        config.containerConcurrency = 0
        target.apply(config)
        #expect(target.endpointsToProbe().endpoints == [EndpointAddress(host: "10.9.9.9", port: 8012)])
    }
}
