@testable import Activator
import Testing

@Suite struct HeapTrimScheduleTests {
    @Test func aWaveOfAThousandConnectionsIsTrimmedOnceItFallsToAQuarter() {
        var schedule = HeapTrimSchedule()
        #expect(!schedule.observe(open: 10))
        #expect(!schedule.observe(open: 4_000))
        #expect(!schedule.observe(open: 1_001), "still above a quarter of the peak")
        #expect(schedule.observe(open: 1_000))
        #expect(schedule.peak == 1_000)
        #expect(schedule.observe(open: 100), "the rest of the wave going is a second, smaller wave")
        #expect(!schedule.observe(open: 0), "below the minimum peak nothing is worth trimming")
    }

    @Test func steadyTrafficNeverTrims() {
        var schedule = HeapTrimSchedule()
        for open in [900, 950, 990, 20, 999, 0] { #expect(!schedule.observe(open: open)) }
    }
}
