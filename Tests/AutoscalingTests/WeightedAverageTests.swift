import Testing
import Autoscaling

/// The weighted-exponential window: Knative's `WeightedFloat64Buckets`.
///
/// The smoothing coefficient is m = max(1 - (1 - 0.9999)^(1/nb), 0.2) for nb buckets; the value is
/// Σ bucket[newest - i] · m · (1 - m)^i, starting with leading zeros for the seconds between the
/// last write and now, neither normalised by the weight sum nor rounded.
@Suite("BucketWindow (weighted exponential)")
struct WeightedAverageTests {
    // Coefficients from the formula, by hand: 1 - 10^(-4/nb).
    /// nb = 5: 1 - 10^-0.8.
    static let m5 = 0.8415106807538921
    /// nb = 10: 1 - 10^-0.4.
    static let m10 = 0.6018928294465071

    private func weighted(_ seconds: Int64) -> BucketWindow {
        BucketWindow(window: .seconds(seconds), algorithm: .weightedExponential)
    }

    /// A window holding `values[i]` at second i.
    private func weighted(_ seconds: Int64, values: [Double]) -> BucketWindow {
        var window = weighted(seconds)
        for (i, value) in values.enumerated() { window.record(value, at: ts(Double(i))) }
        return window
    }

    @Test("a single value v at now reads v · m; m follows the formula with a 0.2 floor from 42 buckets", arguments: [
        (Int64(1), 0.9999),
        (2, 0.99),
        (5, 0.8415106807538921),
        (6, 0.7845565309968155),
        (10, 0.6018928294465071),
        (30, 0.2643577455403614),
        (41, 0.20119821919843184),   // last size above the floor
        (42, 0.2),                   // 1 - 10^(-4/42) = 0.19691... < 0.2
        (60, 0.2),                   // the default stable window
        (600, 0.2),
    ] as [(Int64, Double)])
    func coefficient(windowSeconds: Int64, m: Double) {
        var window = weighted(windowSeconds)
        window.record(100, at: ts(0))
        #expect(isClose(window.average(at: ts(0)), 100 * m, tolerance: 1e-9))
    }

    @Test("values in the same second are summed before weighting")
    func sameSecondIsSummed() {
        var window = weighted(10)
        window.record(3, at: ts(0))
        window.record(4, at: ts(0.5))
        #expect(isClose(window.average(at: ts(0.5)), 7 * Self.m10))
    }

    @Test("the newest bucket weighs most: [10, 10, 5, 5] and its reverse")
    func newestWeighsMost() {
        let m = Self.m10, q = 1 - Self.m10
        // Oldest first; the newest value gets weight m.
        let rising = weighted(10, values: [10, 10, 5, 5])
        let expectedRising = 5 * m + 5 * m * q + 10 * m * q * q + 10 * m * q * q * q
        #expect(isClose(rising.average(at: ts(3)), expectedRising))
        #expect(isClose(rising.average(at: ts(3)), 5.541257953079593))

        let falling = weighted(10, values: [5, 5, 10, 10])
        #expect(isClose(falling.average(at: ts(3)), 9.08195908219399))
    }

    @Test("the result is not normalised: a full window of a constant c reads c · (1 - (1 - m)^nb)")
    func notNormalised() {
        // nb = 5: (1 - m)^5 = 0.0001 exactly by construction, so 10 reads 9.999, not 10.
        let five = weighted(5, values: [10, 10, 10, 10, 10])
        #expect(isClose(five.average(at: ts(4)), 9.999))

        // nb = 60 with the 0.2 floor: 1 - 0.8^60.
        let sixty = weighted(60, values: Array(repeating: 1, count: 60))
        #expect(isClose(sixty.average(at: ts(59)), 0.999998467504459))
    }

    @Test("the result is not rounded to 6 decimals")
    func notRounded() {
        var window = weighted(10)
        window.record(1, at: ts(0))
        let value = window.average(at: ts(0))
        #expect(isClose(value, 0.6018928294465071, tolerance: 1e-12))
        #expect(abs(value - 0.601893) > 1e-7)
    }

    @Test("seconds between lastWrite and now are leading zeros: the multiplier starts at m · (1 - m)^zeros", arguments: [
        (0.0, 100 * 0.6018928294465071),
        (0.75, 100 * 0.6018928294465071),
        (1, 100 * 0.6018928294465071 * 0.3981071705534929),
        (2, 9.539358479809064),                  // 100 · m · (1 - m)^2
    ] as [(Double, Double)])
    func leadingZeros(now: Double, expected: Double) {
        var window = weighted(10)
        window.record(100, at: ts(0))
        #expect(isClose(window.average(at: ts(now)), expected))
    }

    @Test("at exactly a window after the last write there are no buckets left; after that the window is empty")
    func staleWindow() {
        var window = weighted(10)
        window.record(100, at: ts(0))
        #expect(window.average(at: ts(9)) > 0)
        #expect(window.average(at: ts(10)) == 0)
        #expect(!window.isEmpty(at: ts(10)))
        #expect(window.isEmpty(at: ts(11)))
        #expect(window.average(at: ts(11)) == 0)
    }

    @Test("now before the last write reads from the newest bucket without leading zeros")
    func nowBeforeLastWrite() {
        let window = weighted(10, values: [10, 10, 5, 5])
        #expect(isClose(window.average(at: ts(1)), 5.541257953079593))
    }

    @Test("skipped buckets are zeroed by a later write and weigh as zeros")
    func gapBetweenWrites() {
        var window = weighted(5)
        window.record(10, at: ts(0))
        window.record(20, at: ts(3))
        let m = Self.m5, q = 1 - Self.m5
        // Newest first: 20, 0, 0, 10.
        #expect(isClose(window.average(at: ts(3)), 20 * m + 10 * m * q * q * q))
        #expect(isClose(window.average(at: ts(3)), 16.86371475868839))
    }

    @Test("a whole window of silence resets the buckets, unlike a shorter gap")
    func resetAfterSilence() {
        let m = Self.m5, q = 1 - Self.m5
        var kept = weighted(5)
        kept.record(100, at: ts(0))
        kept.record(1, at: ts(4))
        #expect(isClose(kept.average(at: ts(4)), 1 * m + 100 * m * q * q * q * q))

        var reset = weighted(5)
        reset.record(100, at: ts(0))
        reset.record(1, at: ts(5))
        #expect(isClose(reset.average(at: ts(5)), m))
    }

    @Test("a write older than lastWrite - window is dropped")
    func tooOldWriteIsDropped() {
        var window = weighted(5)
        window.record(10, at: ts(10))
        window.record(99, at: ts(5))
        #expect(isClose(window.average(at: ts(10)), 10 * Self.m5))
    }

    @Test("resizing recomputes the coefficient and keeps the newest buckets")
    func resize() {
        var window = weighted(10)
        window.record(100, at: ts(0))
        #expect(isClose(window.average(at: ts(0)), 100 * Self.m10))
        window.resize(to: .seconds(5), at: ts(0))
        #expect(window.bucketCount == 5)
        #expect(isClose(window.average(at: ts(0)), 100 * Self.m5))
        window.resize(to: .seconds(60), at: ts(0))
        #expect(isClose(window.average(at: ts(0)), 100 * 0.2))
    }
}
