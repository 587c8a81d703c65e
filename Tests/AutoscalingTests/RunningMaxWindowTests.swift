import Testing
import Autoscaling

/// The scale-down-delay window: Knative's `max.TimeWindow`.
///
/// N = ceil(delay / 2 s) buckets, a record at time t goes to bucket index unix(t) / 2, and a value
/// recorded at index i is still the maximum candidate for a record at index j while j - i < N.
/// `baseSeconds` is even, so offsets 0-1 are index i0, 2-3 are i0 + 1, and so on.
@Suite("RunningMaxWindow")
struct RunningMaxWindowTests {
    @Test("N = ceil(delay / 2 s)", arguments: [
        (Duration.seconds(1), 1),
        (.seconds(2), 1),
        (.seconds(3), 2),
        (.seconds(5), 3),
        (.seconds(6), 3),
        (.seconds(60), 30),
        (.seconds(300), 150),
    ] as [(Duration, Int)])
    func bucketCount(delay: Duration, expected: Int) {
        let window = RunningMaxWindow(duration: delay)
        #expect(window.bucketCount == expected)
        #expect(window.granularity == .seconds(2))
    }

    @Test("current is 0 before the first record")
    func initiallyZero() {
        #expect(RunningMaxWindow(duration: .seconds(60)).current == 0)
    }

    /// A 10 at offset 0 (index i0), then 1s at later offsets, with N = 3.
    @Test("a value stays exactly while idx(now) - idx(record) < N", arguments: [
        (1.0, 10),   // i0, same bucket
        (2, 10),     // i0 + 1
        (3.75, 10),
        (4, 10),     // i0 + 2
        (5.75, 10),
        (6, 1),      // i0 + 3: aged out
        (100, 1),
    ] as [(Double, Int)])
    func valueStaysForNBuckets(later: Double, expected: Int) {
        var window = RunningMaxWindow(duration: .seconds(6))
        window.record(10, at: ts(0))
        window.record(1, at: ts(later))
        #expect(window.current == expected)
    }

    @Test("the window is aligned to unix / 2: a value recorded at an odd second lasts one second less")
    func clockAlignment() {
        var odd = RunningMaxWindow(duration: .seconds(6))
        odd.record(10, at: ts(1))           // index i0, like offset 0
        odd.record(1, at: ts(5.5))          // i0 + 2
        #expect(odd.current == 10)
        odd.record(1, at: ts(6))            // i0 + 3, only 5 s after the record
        #expect(odd.current == 1)
    }

    @Test("several values in one bucket keep the largest, whatever their order")
    func sameBucketKeepsLargest() {
        var window = RunningMaxWindow(duration: .seconds(6))
        window.record(5, at: ts(0))
        window.record(9, at: ts(0.5))
        window.record(3, at: ts(1))         // same index as the 9
        #expect(window.current == 9)
        window.record(2, at: ts(2))
        window.record(2, at: ts(4))
        #expect(window.current == 9)
        window.record(2, at: ts(6))         // i0 + 3: the whole first bucket is gone
        #expect(window.current == 2)
    }

    @Test("a one-bucket window returns the largest of the current bucket, not the latest value")
    func oneBucketWindow() {
        var window = RunningMaxWindow(duration: .seconds(2))
        window.record(10, at: ts(0))
        window.record(1, at: ts(1))
        #expect(window.current == 10)
        window.record(1, at: ts(2))
        #expect(window.current == 1)
    }

    @Test("a descending sequence: each value is the maximum for exactly N buckets")
    func descendingSequence() {
        var window = RunningMaxWindow(duration: .seconds(6))
        let values = [10, 8, 6, 4, 2, 1, 1]
        let expected = [10, 10, 10, 8, 6, 4, 2]
        for (step, value) in values.enumerated() {
            window.record(value, at: ts(Double(2 * step)))
            #expect(window.current == expected[step], "step \(step)")
        }
    }

    @Test("an ascending sequence: the newest value is always the maximum")
    func ascendingSequence() {
        var window = RunningMaxWindow(duration: .seconds(6))
        for (step, value) in [1, 2, 3, 7, 9].enumerated() {
            window.record(value, at: ts(Double(2 * step)))
            #expect(window.current == value)
        }
    }

    @Test("a peak in the middle holds for N buckets from its own bucket")
    func peakInTheMiddle() {
        var window = RunningMaxWindow(duration: .seconds(6))
        let values = [3, 7, 2, 2, 2, 2]
        let expected = [3, 7, 7, 7, 2, 2]
        for (step, value) in values.enumerated() {
            window.record(value, at: ts(Double(2 * step)))
            #expect(window.current == expected[step], "step \(step)")
        }
    }

    @Test("equal values refresh the age: the newer copy of a value keeps it for N more buckets")
    func equalValueRefreshes() {
        var window = RunningMaxWindow(duration: .seconds(6))
        window.record(5, at: ts(0))         // i0
        window.record(5, at: ts(4))         // i0 + 2 replaces the older 5
        window.record(1, at: ts(6))         // i0 + 3: the first 5 would be gone, the second stays
        #expect(window.current == 5)
        window.record(1, at: ts(10))        // i0 + 5: second 5 aged out (5 - 2 = 3)
        #expect(window.current == 1)
    }

    @Test("a jump far past the window leaves only the new value")
    func jumpFarAhead() {
        var window = RunningMaxWindow(duration: .seconds(6))
        window.record(10, at: ts(0))
        window.record(8, at: ts(2))
        window.record(1, at: ts(1000))
        #expect(window.current == 1)
    }

    @Test("a 5-minute delay holds a value for 150 buckets (about 300 s)")
    func fiveMinuteDelay() {
        var window = RunningMaxWindow(duration: .seconds(300))
        window.record(10, at: ts(0))
        window.record(1, at: ts(299))       // i0 + 149
        #expect(window.current == 10)
        window.record(1, at: ts(300))       // i0 + 150
        #expect(window.current == 1)
    }

    @Test("a 1-second granularity keys buckets by unix second")
    func oneSecondGranularity() {
        var window = RunningMaxWindow(duration: .seconds(3), granularity: .seconds(1))
        #expect(window.bucketCount == 3)
        window.record(10, at: ts(0))
        window.record(1, at: ts(2.75))
        #expect(window.current == 10)
        window.record(1, at: ts(3))
        #expect(window.current == 1)
    }
}
