import Testing
@testable import Autoscaling

@Test func placeholder() { #expect(Timestamp(seconds: 1).unixSeconds == 1) }
