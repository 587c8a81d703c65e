import Testing
import Autoscaling

/// The linear (default) window: Knative's `TimedFloat64Buckets`.
///
/// Every expected value below is worked out by hand from the bucket rules: values are summed per
/// 1-second bucket, the average divides the window total by the number of written buckets (capped
/// by the buckets that are not stale), and the result is rounded to 6 decimals.
@Suite("BucketWindow (linear)")
struct BucketWindowTests {
    /// Records `values[i]` at `ts(first + i)`, one value per second.
    private func window(_ seconds: Int64, values: [Double], from first: Double = 0) -> BucketWindow {
        var window = BucketWindow(window: .seconds(seconds))
        for (i, value) in values.enumerated() {
            window.record(value, at: ts(first + Double(i)))
        }
        return window
    }

    // MARK: - Shape

    @Test("the bucket count is ceil(window / granularity)", arguments: [
        (Duration.seconds(60), 60),
        (.seconds(6), 6),
        (.seconds(5), 5),
        (.milliseconds(5500), 6),
        (.milliseconds(500), 1),
        (.seconds(1), 1),
    ] as [(Duration, Int)])
    func bucketCount(window: Duration, expected: Int) {
        let buckets = BucketWindow(window: window)
        #expect(buckets.bucketCount == expected)
        #expect(buckets.window == window)
        #expect(buckets.granularity == .seconds(1))
        #expect(buckets.algorithm == .linear)
    }

    @Test("a coarser granularity gives fewer buckets: ceil(5 s / 2 s) = 3")
    func bucketCountWithCoarserGranularity() {
        #expect(BucketWindow(window: .seconds(5), granularity: .seconds(2)).bucketCount == 3)
    }

    @Test("a window that was never written is empty and averages 0")
    func neverWritten() {
        let buckets = BucketWindow(window: .seconds(60))
        #expect(buckets.isEmpty(at: ts(0)))
        #expect(buckets.average(at: ts(0)) == 0)
        #expect(buckets.average(at: ts(1000)) == 0)
    }

    // MARK: - Summing per bucket

    @Test("values recorded during the same second are added into one bucket")
    func sameSecondIsSummed() {
        var buckets = BucketWindow(window: .seconds(5))
        buckets.record(1, at: ts(0))
        buckets.record(2, at: ts(0.25))
        buckets.record(3, at: ts(0.75))
        // One written bucket holding 1 + 2 + 3.
        #expect(buckets.average(at: ts(0.75)) == 6)
        #expect(buckets.average(at: ts(0.5)) == 6)
    }

    @Test("a Unix second boundary separates buckets; the sub-second part of now does not matter")
    func secondBoundary() {
        var buckets = BucketWindow(window: .seconds(5))
        buckets.record(4, at: ts(0.75))
        buckets.record(6, at: ts(1))
        // Two buckets (4 and 6): 10 / 2.
        #expect(buckets.average(at: ts(1)) == 5)
        #expect(buckets.average(at: ts(1.75)) == 5)
    }

    // MARK: - Partial window

    @Test("young data is averaged over the written buckets only, not the whole window")
    func partialWindowAfterFirstWrite() {
        var buckets = BucketWindow(window: .seconds(60))
        buckets.record(10, at: ts(0))
        #expect(buckets.average(at: ts(0)) == 10)        // 10 / 1
        buckets.record(20, at: ts(1))
        #expect(buckets.average(at: ts(1)) == 15)        // 30 / 2
        buckets.record(30, at: ts(2))
        #expect(buckets.average(at: ts(2.5)) == 20)      // 60 / 3, not 60 / 60
        #expect(!buckets.isEmpty(at: ts(2)))
    }

    @Test("now before the last write divides the whole total by the written buckets")
    func nowBeforeLastWrite() {
        let buckets = window(60, values: [10, 20, 30])
        #expect(buckets.average(at: ts(1)) == 20)
        #expect(buckets.average(at: ts(-5)) == 20)
    }

    @Test("a full window wraps around: the oldest bucket is overwritten and the divisor is capped at the bucket count")
    func fullWindowWrapsAround() {
        var buckets = BucketWindow(window: .seconds(5))
        let expected: [Double] = [
            1,      // 1 / 1
            1.5,    // 3 / 2
            2,      // 6 / 3
            2.5,    // 10 / 4
            3,      // 15 / 5
            4,      // (2+3+4+5+6) / 5: the bucket of ts(0) was reused
            5,      // (3+4+5+6+7) / 5
        ]
        for i in 0..<7 {
            buckets.record(Double(i + 1), at: ts(Double(i)))
            #expect(buckets.average(at: ts(Double(i))) == expected[i], "after writing at \(i) s")
        }
    }

    // MARK: - Stale data

    /// Data 10, 20, 30, 40, 50 at seconds 0...4 in a 5-second window, read later without new writes.
    @Test("a read after a gap shorter than the window drops the stale buckets and shrinks the divisor", arguments: [
        (4.0, 30.0),    // 150 / 5
        (5, 35),        // (20+30+40+50) / 4: the bucket of second 0 is stale
        (6, 40),        // (30+40+50) / 3
        (7, 45),        // (40+50) / 2
        (8, 50),        // 50 / 1
        (8.75, 50),     // now is truncated to the second
        (9, 0),         // now - lastWrite = window
        (30, 0),
    ] as [(Double, Double)])
    func staleBucketsAreSubtracted(now: Double, expected: Double) {
        let buckets = window(5, values: [10, 20, 30, 40, 50])
        #expect(buckets.average(at: ts(now)) == expected)
    }

    @Test("the seconds between the last write and now do not dilute young data")
    func silenceAfterYoungData() {
        // Two written buckets, read 10 s later in a 60 s window: min(2, 60 - 10) = 2 buckets.
        let buckets = window(60, values: [30, 30])
        #expect(buckets.average(at: ts(11)) == 30)
    }

    @Test("now - lastWrite >= window gives 0, though the window is empty only once it exceeds the window")
    func staleForAWholeWindow() {
        let buckets = window(5, values: [10])
        #expect(buckets.average(at: ts(4.75)) == 10)
        #expect(buckets.average(at: ts(5)) == 0)
        #expect(!buckets.isEmpty(at: ts(5)))
        #expect(!buckets.isEmpty(at: ts(5.75)))
        #expect(buckets.isEmpty(at: ts(6)))
        #expect(buckets.average(at: ts(6)) == 0)
    }

    // MARK: - Gaps between writes

    @Test("a write after a gap zeroes the skipped buckets, which then count as zeros")
    func gapBetweenWritesCountsAsZeros() {
        var buckets = window(5, values: [10, 20, 30, 40, 50])
        buckets.record(7, at: ts(7))
        // Buckets of seconds 5 and 6 are zeroes, second 7 holds 7: (40 + 50 + 0 + 0 + 7) / 5.
        #expect(buckets.average(at: ts(7)) == 19.4)
    }

    @Test("a gap inside young data is part of the partial window")
    func gapInsideYoungData() {
        var buckets = BucketWindow(window: .seconds(60))
        buckets.record(10, at: ts(0))
        buckets.record(20, at: ts(3))
        // Written span is seconds 0...3: (10 + 0 + 0 + 20) / 4.
        #expect(buckets.average(at: ts(3)) == 7.5)
    }

    @Test("a write after at least a whole window of silence resets the window", arguments: [
        (4.0, 20.8),    // no reset: (100 + 0 + 0 + 0 + 4) / 5
        (4.75, 20.8),   // same bucket as second 4
        (5, 4),         // gap = window: reset, 4 / 1
        (5.5, 4),
        (6, 4),
        (60, 4),
    ] as [(Double, Double)])
    func silenceResets(second: Double, expected: Double) {
        var buckets = BucketWindow(window: .seconds(5))
        buckets.record(100, at: ts(0))
        buckets.record(4, at: ts(second))
        #expect(buckets.average(at: ts(second)) == expected)
    }

    @Test("after a reset the partial window starts again from the new first write")
    func partialWindowAfterReset() {
        var buckets = BucketWindow(window: .seconds(5))
        buckets.record(100, at: ts(0))
        buckets.record(4, at: ts(10))
        buckets.record(6, at: ts(11))
        #expect(buckets.average(at: ts(11)) == 5)   // (4 + 6) / 2
    }

    // MARK: - Out-of-order writes

    @Test("a write older than lastWrite - window is dropped", arguments: [5.0, 5.75, 0, -100])
    func tooOldWriteIsDropped(second: Double) {
        var buckets = BucketWindow(window: .seconds(5))
        buckets.record(10, at: ts(10))
        buckets.record(99, at: ts(second))
        #expect(buckets.average(at: ts(10)) == 10)
    }

    @Test("an out-of-order write inside the window lands in its bucket and moves firstWrite back")
    func outOfOrderMovesFirstWriteBack() {
        var short = BucketWindow(window: .seconds(5))
        short.record(10, at: ts(10))
        short.record(4, at: ts(6))                      // 6 + 5 > 10: kept
        #expect(short.average(at: ts(10)) == 2.8)      // (4 + 0 + 0 + 0 + 10) / 5

        var long = BucketWindow(window: .seconds(60))
        long.record(30, at: ts(10))
        long.record(10, at: ts(8))
        #expect(long.average(at: ts(10)) == 13.333333) // 40 / 3, rounded
    }

    @Test("an out-of-order write after the first write keeps firstWrite and lastWrite")
    func outOfOrderInsideWrittenSpan() {
        var buckets = BucketWindow(window: .seconds(60))
        buckets.record(10, at: ts(0))
        buckets.record(20, at: ts(3))
        buckets.record(6, at: ts(1))
        #expect(buckets.average(at: ts(3)) == 9)        // (10 + 6 + 0 + 20) / 4
        // lastWrite is still second 3: one second later nothing is stale yet.
        #expect(buckets.average(at: ts(4)) == 9)
    }

    // MARK: - Rounding

    @Test("the linear average is rounded to 6 decimals", arguments: [
        ([1, 1, 0], 0.666667),
        ([1, 0, 0], 0.333333),
        ([10, 0, 0], 3.333333),
        ([-1, -1, 0], -0.666667),
        ([0.0000004], 0),
        ([0.0000006], 0.000001),
        ([1.23456789], 1.234568),
    ] as [([Double], Double)])
    func roundsToSixDecimals(values: [Double], expected: Double) {
        let buckets = window(60, values: values)
        #expect(buckets.average(at: ts(Double(values.count - 1))) == expected)
    }

    // MARK: - Resize

    @Test("growing the window keeps the data and later writes extend the same run")
    func growKeepsData() {
        var buckets = window(5, values: [10, 20, 30, 40, 50])
        buckets.resize(to: .seconds(10), at: ts(4))
        #expect(buckets.window == .seconds(10))
        #expect(buckets.bucketCount == 10)
        #expect(buckets.average(at: ts(4)) == 30)       // 150 / 5
        buckets.record(60, at: ts(5))
        #expect(buckets.average(at: ts(5)) == 35)       // 210 / 6; a 5 s window would say 40
    }

    @Test("resizing moves firstWrite back to lastWrite - (old bucket count - 1)")
    func resizeMovesFirstWriteBack() {
        var buckets = window(5, values: [10], from: 3)
        #expect(buckets.average(at: ts(3)) == 10)
        buckets.resize(to: .seconds(10), at: ts(3))
        // The written span is now taken as 5 buckets (4 of them zero): 10 / 5.
        #expect(buckets.average(at: ts(3)) == 2)
    }

    @Test("shrinking the window keeps only the newest buckets")
    func shrinkKeepsNewest() {
        var buckets = window(10, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(buckets.average(at: ts(9)) == 5.5)
        buckets.resize(to: .seconds(5), at: ts(9))
        #expect(buckets.bucketCount == 5)
        #expect(buckets.average(at: ts(9)) == 8)        // (6+7+8+9+10) / 5
    }

    @Test("resizing after more than a window of silence discards the data")
    func resizeStaleDiscards() {
        var buckets = window(5, values: [10])
        buckets.resize(to: .seconds(10), at: ts(6))
        #expect(buckets.average(at: ts(6)) == 0)
        buckets.record(7, at: ts(7))
        #expect(buckets.average(at: ts(7)) == 7)        // a new partial window of one bucket
    }

    @Test("data exactly one old window old is still copied on resize")
    func resizeAtWindowBoundaryCopies() {
        var buckets = window(5, values: [10])
        buckets.resize(to: .seconds(10), at: ts(5))
        // firstWrite = second -4, lastWrite = second 0; read at 5: min(5, 10 - 5) = 5 buckets.
        #expect(buckets.average(at: ts(5)) == 2)
    }

    @Test("resizing to the same window changes nothing")
    func resizeToSameWindow() {
        var buckets = window(60, values: [10], from: 3)
        buckets.resize(to: .seconds(60), at: ts(3))
        #expect(buckets.average(at: ts(3)) == 10)       // firstWrite was not moved back
        #expect(buckets.bucketCount == 60)
    }
}
