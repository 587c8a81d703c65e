import RemoteReadCodec
import SeriesSignals
import Testing
@testable import Collector

/// Exporter scrapes kept as short series, selected with PromQL's matcher rules.
@Suite struct ScrapeHistoryTests {
    static func sample(_ pod: String, _ value: Double, gpu: String = "0") -> ScrapedSample {
        ScrapedSample(name: "DCGM_FI_DEV_GPU_UTIL", labels: ["gpu": gpu, "pod": pod], value: value)
    }

    @Test func scrapesBecomeSeriesAndAgeOutPastTheHorizon() throws {
        var history = ScrapeHistory(horizon: .seconds(10))
        history.add([Self.sample("a-0", 10), Self.sample("b-0", 20)], at: 0)
        history.add([Self.sample("a-0", 30)], at: 5_000)
        history.add([Self.sample("a-0", 50)], at: 12_000)
        let all = try history.select([LabelMatch("__name__", .equal, "DCGM_FI_DEV_GPU_UTIL")])
        #expect(all.count == 1, "b-0 was last seen 12 s ago, past the 10 s horizon")
        #expect(all.first?.points == [SeriesPoint(5_000, 30), SeriesPoint(12_000, 50)])
        #expect(history.seriesCount == 1)
    }

    @Test func aLineWithItsOwnTimestampKeepsItAndRepeatsAreNotDoubled() throws {
        var history = ScrapeHistory(horizon: .seconds(60))
        var stamped = Self.sample("a-0", 10)
        stamped.timestampMilliseconds = 4_000
        history.add([stamped], at: 5_000)
        history.add([stamped], at: 6_000)
        #expect(try history.select([]).first?.points == [SeriesPoint(4_000, 10)])
    }

    @Test(arguments: [
        (LabelMatch("pod", .equal, "a-0"), ["a-0"]),
        (LabelMatch("pod", .notEqual, "a-0"), ["a-1", "b-0"]),
        (LabelMatch("pod", .regex, "a-.*"), ["a-0", "a-1"]),
        (LabelMatch("pod", .regex, "a"), []),                 // anchored: "a" does not match "a-0"
        (LabelMatch("pod", .notRegex, "a-.*"), ["b-0"]),
        (LabelMatch("exported_pod", .equal, ""), ["a-0", "a-1", "b-0"]),  // a missing label is ""
    ])
    func matchersFollowPromQL(matcher: LabelMatch, pods: [String]) throws {
        var history = ScrapeHistory(horizon: .seconds(60))
        history.add(["a-0", "a-1", "b-0"].map { Self.sample($0, 1) }, at: 1_000)
        #expect(try history.select([matcher]).compactMap { $0.labels["pod"] }.sorted() == pods)
    }
}
