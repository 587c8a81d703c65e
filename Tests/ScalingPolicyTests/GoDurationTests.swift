import Autoscaling
import Testing
@testable import ScalingPolicy

@Suite struct GoDurationTests {
    @Test(arguments: [
        ("60s", Duration.seconds(60)), ("1m30s", .seconds(90)), ("1h", .seconds(3600)), ("500ms", .milliseconds(500)),
        ("1.5s", .milliseconds(1500)), ("0", .zero), ("-2s", .seconds(-2)), ("+3s", .seconds(3)), ("1h0m0s", .seconds(3600)),
        ("2us", .microseconds(2)), ("7ns", .nanoseconds(7)), (".5s", .milliseconds(500)),
    ])
    func parsesGoDurations(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "60", "s", "1x", "1.2.3s", "abc", "1s2", "--1s", "."])
    func rejectsWhatGoRejects(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.seconds(3600), "1h0m0s"), (.seconds(90), "1m30s"), (.seconds(6), "6s"), (.milliseconds(1500), "1.5s"),
        (.milliseconds(500), "500ms"), (.zero, "0s"), (.seconds(-5), "-5s"), (.microseconds(3), "3µs"), (.nanoseconds(12), "12ns"),
    ])
    func formatsLikeGo(duration: Duration, expected: String) {
        #expect(GoDuration.format(duration) == expected)
    }
}

@Suite struct GoDurationPrecisionTests {
    @Test func fractionsFinerThanANanosecondAreDroppedNotRounded() {
        #expect(GoDuration.parse("5.9999999999s") == .nanoseconds(5_999_999_999))
        #expect(GoDuration.parse("1.0000000001h") == .nanoseconds(3_600_000_000_360))
    }

    @Test func overflowIsNotADuration() {
        #expect(GoDuration.parse("9999999999999h") == nil)
        #expect(GoDuration.parse("99999999999999999999s") == nil)
    }
}
