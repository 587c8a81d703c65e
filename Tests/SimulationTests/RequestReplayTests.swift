import Autoscaling
import Foundation
import ScalingPolicy
import Testing
import ThawTestSupport
@testable import Simulation
@testable import ChartImage

/// A controller that asks for a fixed count from a given second on.
private struct FixedController: ReplicaController {
    let name = "fixed"
    var from: Int
    var replicas: Int

    mutating func decide(second t: Int, stat: RequestStat, waiting: Int, ready: Int, replicas current: Int) -> (replicas: Int?, reason: String?) {
        t == from ? (replicas, "fixed") : (nil, nil)
    }
}

@Suite struct RequestLogTests {
    @Test func readsNamedColumnsInAnyOrderAndShiftsToZero() throws {
        let log = try RequestLog(csv: "# a public trace\nprompt_tokens,duration,timestamp\n12,2.5,1700000010.5\n30,1,1700000010\n")
        #expect(log.requests == [.init(arrival: 0, service: 1), .init(arrival: 0.5, service: 2.5)])
        #expect(RequestLog.looksLikeRequestLog(header: "arrival,service"))
        #expect(!RequestLog.looksLikeRequestLog(header: "t,rps"))
    }

    @Test func errorsNameTheFileLineAndField() {
        #expect { try RequestLog(csv: "t,rps\n0,1\n", file: "x.csv") } throws: { "\($0)".contains("x.csv:1") && "\($0)".contains("arrival") }
        #expect { try RequestLog(csv: "arrival,service\n0,1\n1,-2\n", file: "x.csv") } throws: {
            "\($0)".contains("x.csv:3") && "\($0)".contains("service must be seconds")
        }
        #expect { try RequestLog(csv: "arrival,service\n0,1,2\n", file: "x.csv") } throws: { "\($0)".contains("expected 2 columns") }
        #expect { try RequestLog(csv: "arrival,service\n", file: "x.csv") } throws: { "\($0)".contains("no requests") }
    }

    @Test func perSecondDemandBecomesEvenlySpreadRequests() throws {
        let log = RequestLog(demand: try DemandTrace(csv: "t,rps\n0,2\n1,0\n2,1"), latency: 0.5)
        #expect(log.requests.map(\.arrival) == [0, 0.5, 2])
        #expect(log.requests.allSatisfy { $0.service == 0.5 })
        #expect(try RequestLog(csv: log.csv) == log)
    }
}

@Suite struct RequestReplayTests {
    @Test func requestsWaitForASlotFirstComeFirstServed() {
        // One replica with one slot: the second request waits for the first to end.
        let log = RequestLog(requests: [.init(arrival: 0, service: 2), .init(arrival: 0.5, service: 1)])
        var options = RequestReplayOptions()
        options.slots = 1
        options.initialReplicas = 1
        options.tailSeconds = 0
        var controller = FixedController(from: -1, replicas: 0)
        let (timeline, summary) = RequestReplay(log: log, options: options).run(&controller)
        #expect(summary.queuedSlotSeconds == 1.5)
        #expect(summary.waitMax == 1.5)
        #expect(summary.coldStarts == 0)
        // The last request ends at 3.0: the replay runs on into that second to see it end.
        #expect(summary.replicaSeconds == 4)
        // A request ending exactly at a second's end is done in the next one.
        #expect(timeline.map(\.waiting) == [1, 1, 0, 0])
        #expect(timeline[0].concurrency == 1.5)
    }

    @Test func aRequestThatWaitsForAStartingReplicaIsAColdStart() {
        // Nothing runs; the controller asks for one replica at t=1 with a 4 s load: ready at 5.
        let log = RequestLog(requests: [.init(arrival: 0, service: 1), .init(arrival: 6, service: 1)])
        var options = RequestReplayOptions()
        options.loadTime = 4
        options.tailSeconds = 0
        var controller = FixedController(from: 1, replicas: 1)
        let (timeline, summary) = RequestReplay(log: log, options: options).run(&controller)
        #expect(summary.coldStarts == 1)
        #expect(summary.waitMax == 5)
        #expect(summary.waitP50 == 0)
        #expect(summary.starts == 1)
        #expect(timeline[1].replicas == 1 && timeline[1].ready == 0)
        #expect(timeline[5].ready == 1)
    }

    @Test func fewerReplicasRemoveStartingOnesFirstAndBusyOnesDrain() {
        let log = RequestLog(requests: [.init(arrival: 0, service: 5.5)])
        var options = RequestReplayOptions()
        options.initialReplicas = 1
        options.loadTime = 10
        options.tailSeconds = 0
        struct UpThenDown: ReplicaController {
            let name = "updown"
            mutating func decide(second t: Int, stat: RequestStat, waiting: Int, ready: Int, replicas: Int) -> (replicas: Int?, reason: String?) {
                switch t { case 1: return (3, nil); case 2: return (0, nil); default: return (nil, nil) }
            }
        }
        var controller = UpThenDown()
        let (timeline, summary) = RequestReplay(log: log, options: options).run(&controller)
        // At t=2 the two starting replicas go at once; the busy one drains until its request ends
        // at 5.5 (a second is counted by the replicas at its end).
        #expect(timeline.map(\.replicas) == [1, 3, 1, 1, 1, 0])
        #expect(summary.waitMax == 0)
        #expect(summary.replicaSeconds == 7)
    }

    @Test func theDaemonsLoopScalesFromZeroAndBackUnderBothPolicies() throws {
        let log = TraceGenerator(scenario: .bursty, seed: 3, seconds: 900).generate()
        var options = RequestReplayOptions()
        options.loadTime = 10
        options.slots = 10
        options.tailSeconds = 900
        for policy in ["thaw", "kpa"] {
            let target = try TargetPolicy(annotations: [
                "autoscaling.knative.dev/target": "7", "autoscaling.knative.dev/min-scale": "0", "autoscaling.thaw.dev/policy": policy,
            ], containerConcurrency: 10)
            var controller = DaemonController(name: policy, policy: target, initialReplicas: 0)
            let (timeline, summary) = RequestReplay(log: log, options: options).run(&controller)
            #expect(summary.requests == log.requests.count)
            #expect(summary.starts > 0, "\(policy)")
            #expect(timeline.last?.replicas == 0, "\(policy) scales back to zero after the trace")
            #expect(summary.waitMax < 120, "\(policy): every request was served")
        }
    }
}

@Suite struct ComparisonModelTests {
    @Test func theHPASyncsEvery15SecondsWithinItsLimits() {
        var hpa = HPAModel(target: 7, minReplicas: 1, maxReplicas: 0)
        // 70 in flight on one pod: 10x over target, but at most max(2x, +4) per sync.
        var decided: [Int: Int] = [:]
        for t in 1...30 {
            let stat = RequestStat(averageConcurrency: 70, requestCount: 20)
            if let count = hpa.decide(second: t, stat: stat, waiting: 0, ready: 1, replicas: 1).replicas { decided[t] = count }
        }
        #expect(decided == [15: 5, 30: 5])
        // Within the 10 % tolerance nothing changes.
        var calm = HPAModel(target: 7, minReplicas: 1, maxReplicas: 0)
        for t in 1...15 {
            #expect(calm.decide(second: t, stat: RequestStat(averageConcurrency: 7.5, requestCount: 3), waiting: 0, ready: 1, replicas: 1).replicas == nil)
        }
    }

    @Test func theHPAScalesDownOnlyToTheHighestRecommendationOfFiveMinutes() {
        var hpa = HPAModel(target: 7, minReplicas: 1, maxReplicas: 0)
        var counts: [Int] = []
        var replicas = 4
        for t in 1...600 {
            let load = t < 60 ? 28.0 : 0.0
            if let count = hpa.decide(second: t, stat: RequestStat(averageConcurrency: load, requestCount: 1), waiting: 0,
                                      ready: replicas, replicas: replicas).replicas {
                replicas = count
                counts.append(t)
            }
        }
        // The first scale-down comes only once the 4-replica recommendations left the window (t > 345).
        #expect(counts.first.map { $0 > 345 } == true)
        #expect(replicas == 1)
    }

    @Test func theClairvoyantBridgesGapsShorterThanTheLoadTime() {
        // One slot a replica: requests over [0,10) and [12,22): a 2 s gap under a 3 s load is bridged.
        let bridged = RequestLog(requests: [.init(arrival: 0, service: 10), .init(arrival: 12, service: 10)])
        let a = ClairvoyantBound.run(bridged, slots: 1, loadTime: 3, initialReplicas: 1, minReplicas: 0, seconds: 30)
        #expect(a.replicaSeconds == 22)
        #expect(a.starts == 0)
        // A 10 s gap is not: the replica goes and starts again one load time ahead.
        let apart = RequestLog(requests: [.init(arrival: 0, service: 10), .init(arrival: 20, service: 10)])
        let b = ClairvoyantBound.run(apart, slots: 1, loadTime: 3, initialReplicas: 1, minReplicas: 0, seconds: 40)
        #expect(b.replicaSeconds == 23)
        #expect(b.starts == 1)
        #expect(ClairvoyantBound.needed(apart, slots: 1, seconds: 40)[15] == 0)
    }
}

@Suite struct PolicyComparisonTests {
    @Test func onBurstsWithASlowLoadThawsPolicyCostsLessAndWaitsLessThanTheKPA() throws {
        // The bench's bar on a trace it was not tuned on (another seed, a shorter run).
        let log = TraceGenerator(scenario: .bursty, seed: 7, seconds: 2400).generate()
        let policy = try TargetPolicy(annotations: ["autoscaling.knative.dev/target": "7", "autoscaling.knative.dev/min-scale": "1"],
                                      containerConcurrency: 10)
        var options = RequestReplayOptions()
        options.loadTime = 30
        options.initialReplicas = 1
        let comparison = PolicyComparison(log: log, policy: policy, options: options)
        let thaw = try #require(comparison.row("thaw")), kpa = try #require(comparison.row("kpa"))
        let clairvoyant = try #require(comparison.row("clairvoyant"))
        #expect(comparison.row("hpa") != nil)
        #expect(thaw.replicaSeconds < kpa.replicaSeconds)
        #expect(thaw.queuedSlotSeconds < kpa.queuedSlotSeconds)
        #expect(clairvoyant.replicaSeconds < thaw.replicaSeconds)
        #expect(comparison.text.contains("thaw / kpa: replica-s "))
        #expect(comparison.jsonLines.split(separator: "\n").count == 4)
    }

    @Test func thePlotIsAPNGThatAnotherDecoderReads() throws {
        let log = TraceGenerator(scenario: .steady, seed: 1, seconds: 300).generate()
        let policy = try TargetPolicy(annotations: ["autoscaling.knative.dev/target": "7"], containerConcurrency: 10)
        var options = RequestReplayOptions()
        options.loadTime = 5
        options.initialReplicas = 1
        let comparison = PolicyComparison(log: log, policy: policy, options: options)
        let image = comparison.plot(title: "steady")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-plot-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(image.png)))
        // Python's zlib and struct, not our encoder, decode it: size, palette index of a pixel
        // inside the first panel's demand shading (grey) and the background (white) at a corner.
        let script = """
            import struct, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
            pos, idat, width, height = 8, b'', 0, 0
            while pos < len(data):
                length, kind = struct.unpack('>I4s', data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                assert zlib.crc32(kind + body) == struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])[0]
                if kind == b'IHDR': width, height = struct.unpack('>II', body[:8])
                if kind == b'IDAT': idat += body
                pos += 12 + length
            raw = zlib.decompress(idat)
            def pixel(x, y): return raw[y * (width + 1) + 1 + x]
            print(width, height, pixel(0, 0), pixel(int(sys.argv[2]), int(sys.argv[3])))
            """
        let x = 56 + 450, y = 52 + 129
        let run = try CommandRun.run(["python3", "-c", script, path, String(x), String(y)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(image.width) \(image.height) 0 \(image.colourIndex(x: x, y: y))")
        #expect(image.colourIndex(x: x, y: y) != 0)
    }
}

@Suite struct TraceGeneratorTests {
    @Test func aSeedGivesTheSameTraceAndAnotherSeedAnother() {
        for scenario in TraceGenerator.Scenario.allCases {
            let a = TraceGenerator(scenario: scenario, seed: 1, seconds: 1800).generate()
            #expect(a == TraceGenerator(scenario: scenario, seed: 1, seconds: 1800).generate(), "\(scenario)")
            #expect(a != TraceGenerator(scenario: scenario, seed: 2, seconds: 1800).generate(), "\(scenario)")
            #expect(!a.requests.isEmpty)
            #expect(a.requests.allSatisfy { $0.service > 0 && $0.service <= 60 })
        }
    }

    @Test func scenariosHaveTheirShapes() {
        func perMinute(_ log: RequestLog, minutes: Int) -> [Int] {
            var counts = [Int](repeating: 0, count: minutes)
            for r in log.requests where Int(r.arrival / 60) < minutes { counts[Int(r.arrival / 60)] += 1 }
            return counts
        }
        let steady = perMinute(TraceGenerator(scenario: .steady, seed: 1, seconds: 3600).generate(), minutes: 60)
        #expect(steady.allSatisfy { (800...1000).contains($0) }, "15 rps is 900 a minute")
        let diurnal = perMinute(TraceGenerator(scenario: .diurnal, seed: 1, seconds: 3600).generate(), minutes: 60)
        #expect(diurnal[29] > 5 * diurnal[0], "the middle of the day is busy, its start is not")
        let bursty = TraceGenerator(scenario: .bursty, seed: 1, seconds: 3600).generate()
        var perSecond = [Int](repeating: 0, count: 3600)
        for r in bursty.requests { perSecond[Int(r.arrival)] += 1 }
        #expect(perSecond.filter { $0 >= 6 }.count > 60, "bursts")
        #expect(perSecond.filter { $0 <= 1 }.count > 1200, "quiet between them")
        let sparse = TraceGenerator(scenario: .sparse, seed: 1, seconds: 10800).generate()
        let gaps = zip(sparse.requests.dropFirst(), sparse.requests).map { $0.arrival - $1.arrival }
        #expect(gaps.filter { $0 >= 30 }.count >= 20, "long idle gaps")
        #expect((gaps.max() ?? 0) > 300, "and a heavy tail")
    }
}

@Suite struct SimulateRequestsCommandTests {
    @Test func generateThenCompareWritesTheTableAndThePlot() throws {
        let generated = try ThawCommandTests.thaw(["simulate", "--generate", "bursty", "--seed", "4", "--duration", "600"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.hasPrefix("arrival,service\n"))
        let log = try ThawCommandTests.temporaryFile("requests.csv", generated.stdout)
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: plot); try? FileManager.default.removeItem(atPath: log) }
        let compared = try ThawCommandTests.thaw(["simulate", "--replay", log, "--compare", "--start-delay", "20", "--plot", plot])
        #expect(compared.status == 0, "\(compared.stderr)")
        for name in ["thaw ", "kpa ", "hpa ", "clairvoyant "] { #expect(compared.stdout.contains("\n" + name), "\(compared.stdout)") }
        #expect(compared.stdout.contains("thaw / kpa: replica-s"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: plot)).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let one = try ThawCommandTests.thaw(["simulate", "--replay", log, "--start-delay", "20", "--json"])
        #expect(one.status == 0)
        let last = try #require(one.stdout.split(separator: "\n").last)
        #expect(last.contains("\"summary\":true") && last.contains("\"policy\":\"thaw\"") && last.contains("\"coldStarts\":"))
    }

    @Test func mistakesAreNamed() throws {
        let bad = try ThawCommandTests.thaw(["simulate", "--generate", "spiky"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("bursty, diurnal, sparse, steady"))
        let plotAlone = try ThawCommandTests.thaw(["simulate", "--generate", "steady", "--plot", "/tmp/x.png"])
        #expect(plotAlone.stderr.contains("--compare"))
        let log = try ThawCommandTests.temporaryFile("bad.csv", "arrival,service\n0,1\nsoon,1\n")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let parsed = try ThawCommandTests.thaw(["simulate", "--replay", log])
        #expect(parsed.status != 0)
        #expect(parsed.stderr.contains("\(log):3"), "\(parsed.stderr)")
    }
}

@Suite struct PlotScaleTests {
    @Test func axisStepsGiveAFewTicks() {
        #expect(PlotImage.niceStep(for: 4) == 1)
        #expect(PlotImage.niceStep(for: 46) == 10)
        #expect(PlotImage.niceStep(for: 180) == 50)
        #expect(PlotImage.niceStep(for: 61) == 20)
        #expect(PlotImage.niceStep(for: 1) == 1)
    }
}
