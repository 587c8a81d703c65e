import Testing
import Autoscaling

/// The epoch-based time every rule is driven by; its second boundaries are the bucket boundaries.
@Suite("Timestamp")
struct TimestampTests {
    @Test("seconds are rounded to the nanosecond")
    func fromSeconds() {
        #expect(Timestamp(seconds: 1.5).nanosecondsSinceEpoch == 1_500_000_000)
        #expect(Timestamp(seconds: 0).nanosecondsSinceEpoch == 0)
        #expect(Timestamp(seconds: -0.25).nanosecondsSinceEpoch == -250_000_000)
        #expect(Timestamp(seconds: 1_700_000_000).nanosecondsSinceEpoch == 1_700_000_000_000_000_000)
        #expect(Timestamp(seconds: 2.5).seconds == 2.5)
        #expect(Timestamp.epoch == Timestamp(nanosecondsSinceEpoch: 0))
    }

    @Test("unixSeconds rounds down, also before the epoch", arguments: [
        (0.0, Int64(0)),
        (0.75, 0),
        (1, 1),
        (-0.25, -1),
        (-1, -1),
        (-1.5, -2),
    ] as [(Double, Int64)])
    func unixSeconds(seconds: Double, expected: Int64) {
        #expect(Timestamp(seconds: seconds).unixSeconds == expected)
    }

    @Test("the test base time is an even Unix second, so 2-second buckets start at offset 0")
    func testBaseIsAligned() {
        #expect(ts(0).unixSeconds == 1_700_000_000)
        #expect(ts(0).unixSeconds % 2 == 0)
        #expect(ts(0.75).unixSeconds == 1_700_000_000)
        #expect(ts(1).unixSeconds == 1_700_000_001)
    }

    @Test("truncation rounds down to a multiple of the granularity")
    func truncation() {
        #expect(ts(0.75).truncated(to: .seconds(1)) == ts(0))
        #expect(ts(3.5).truncated(to: .seconds(2)) == ts(2))
        #expect(Timestamp(seconds: -0.25).truncated(to: .seconds(1)) == Timestamp(seconds: -1))
    }

    @Test("arithmetic with durations")
    func arithmetic() {
        #expect(ts(0) + .seconds(60) == ts(60))
        #expect(ts(60) - .seconds(60) == ts(0))
        #expect(ts(60.5) - ts(0) == .milliseconds(60_500))
        #expect(ts(0) < ts(0.25))
        #expect(Duration.seconds(3).nanoseconds == 3_000_000_000)
        #expect(Duration.milliseconds(1500).secondsValue == 1.5)
        #expect(Duration.seconds(fractional: 0.25) == .milliseconds(250))
    }
}
