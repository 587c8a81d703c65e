import Autoscaling

/// The epoch second all test times are offsets from (2023-11-14T22:13:20Z).
///
/// Knative keys its 1-second metric buckets by Unix seconds and its 2-second scale-down-delay
/// buckets by `unix / 2`, so the tests use real epoch-based times. The base is even: offsets 0 and 1
/// share one delay bucket, offsets 2 and 3 the next one, and so on.
let baseSeconds: Double = 1_700_000_000

/// The time `offset` seconds after `baseSeconds`. Offsets used by the tests are whole seconds or
/// binary fractions (.25, .5, .75) so the conversion to nanoseconds never crosses a second boundary.
func ts(_ offset: Double) -> Timestamp {
    Timestamp(seconds: baseSeconds + offset)
}

/// Comparison for the values that are not rounded (weighted averages, coefficients).
func isClose(_ a: Double, _ b: Double, tolerance: Double = 1e-9) -> Bool {
    abs(a - b) <= tolerance
}
