@testable import Activator
import Testing

@Suite struct HeapTrimScheduleTests {
    static func decisions(_ counts: [Int]) -> [Bool] {
        var schedule = HeapTrimSchedule()
        return counts.map { schedule.observe(open: $0) }
    }

    @Test func aWaveOfAThousandConnectionsIsTrimmedOnceItFallsToAQuarterAndAgainAsTheRestGoes() {
        // 1,001 is still above a quarter of the 4,000 peak; at 1,000 it trims and the peak restarts
        // there, so the rest of the wave going (to 100) is a second, smaller wave; each trim is
        // followed by one more at the next look; then nothing, below the minimum peak.
        #expect(Self.decisions([10, 4_000, 1_001, 1_000, 100, 0, 0, 5]) == [false, false, false, true, true, true, false, false])
    }

    @Test func steadyTrafficNeverTrims() {
        #expect(Self.decisions([900, 950, 990, 20, 999, 0]).allSatisfy { !$0 })
    }
}
