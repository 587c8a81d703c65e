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
