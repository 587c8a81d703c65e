import Activator
import ControlHTTP
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import ThawTestSupport

/// The activator as users run it: a real process, real backends, real sockets on 127.0.0.1.
@Suite(.serialized) struct ActivatorProcessTests {
    @Test func requestsBufferedForATargetWithNoEndpointAllSucceedWhenABackendAppears() async throws {
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: cold
                hosts: [cold.local]
                endpoints: []
                readinessPath: /ready
            """)
        let count = 200
        let responses = try await withThrowingTaskGroup(of: HTTPCall.Response.self) { group in
            for index in 0..<count {
                group.addTask { try await activator.request(host: "cold.local", path: "/predict/\(index)") }
            }
            try await activator.waitForTarget("cold") { $0["queueLength"] as? Int == count }
            let backend = try await Backend.start(name: "cold-1", readyAfter: 0.3)
            try activator.rewrite(ActivatorProcess.routes("cold", on: [backend]))
            var responses: [HTTPCall.Response] = []
            for try await response in group { responses.append(response) }
            let stats = try await backend.stats()
            let first = try #require(stats["firstRequestAt"]), last = try #require(stats["lastRequestAt"])
            let ready = try #require(stats["readyAt"])
            #expect(stats["requests"] == Double(count), "every buffered request reached the backend exactly once")
            // The probe passes at `ready`. How soon after it the requests go is a measurement, not
            // an assertion (`make bench-cold-start`); this test checks the order and the count.
            #expect(first >= ready, "no request may reach a replica before it passed its readiness probe")
            print("scale-from-zero: first request \(Int((first - ready) * 1000)) ms, last \(Int((last - ready) * 1000)) ms after the probe passed")
            return responses
        }
        #expect(responses.count == count)
        #expect(responses.allSatisfy { $0.status == 200 && $0.header("x-backend") == "cold-1" })
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_requests_total{target="cold",code="200"} 200"#))
        #expect(metrics.contains(#"thaw_activator_buffered_seconds_count{target="cold"} 200"#))
    }

    @Test func aFullQueueAnswers503WithRetryAfterAndATimeoutAnswers504() async throws {
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: tiny
                hosts: [tiny.local]
                queueLimit: 5
                timeoutSeconds: 1.5
            """)
        let responses = try await withThrowingTaskGroup(of: HTTPCall.Response.self) { group in
            for _ in 0..<8 { group.addTask { try await activator.request(host: "tiny.local") } }
            var responses: [HTTPCall.Response] = []
            for try await response in group { responses.append(response) }
            return responses
        }
        let full = responses.filter { $0.status == 503 }
        let timedOut = responses.filter { $0.status == 504 }
        #expect(full.count == 3)
        #expect(timedOut.count == 5)
        #expect(full.allSatisfy { $0.header("retry-after") != nil && $0.body.contains("target tiny") && $0.body.contains("queueLimit") })
        #expect(timedOut.allSatisfy { $0.body.contains("target tiny") && $0.body.contains("1.5 s") })
        // Why the activator answered, for the Services dashboard and the overflow and timeout alerts.
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_own_answers_total{target="tiny",reason="queue_full"} 3"#), "\(metrics)")
        #expect(metrics.contains(#"thaw_activator_own_answers_total{target="tiny",reason="timeout"} 5"#))
    }

    @Test func aBackendKilledMidRequestGives502AndTheActivatorStaysHealthy() async throws {
        let doomed = try await Backend.start(name: "doomed")
        let healthy = try await Backend.start(name: "healthy")
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: doomed
                hosts: [doomed.local]
                endpoints: ["\(doomed.address)"]
                readinessPath: /ready
              - name: healthy
                hosts: [healthy.local]
                endpoints: ["\(healthy.address)"]
                readinessPath: /ready
            """)
        try await activator.waitForReady("doomed", endpoints: 1)
        let failed = try await activator.request(host: "doomed.local", path: "/crash-before-response")
        #expect(failed.status == 502)
        #expect(failed.body.contains("target doomed") && failed.body.contains(doomed.address), "\(failed.body)")

        let second = try await Backend.start(name: "doomed-2")
        try activator.rewrite("""
            targets:
              - name: doomed
                hosts: [doomed.local]
                endpoints: ["\(second.address)"]
                readinessPath: /ready
              - name: healthy
                hosts: [healthy.local]
                endpoints: ["\(healthy.address)"]
                readinessPath: /ready
            """)
        try await activator.waitForTarget("doomed") { ($0["readyEndpoints"] as? [String]) == [second.address] }
        // Once the response has started there is no status left to change: the client connection is cut.
        await #expect(throws: (any Error).self) { try await activator.request(host: "doomed.local", path: "/crash-mid-response") }

        #expect(try await activator.admin("/healthz").status == 200)
        let after = try await activator.request(host: "healthy.local")
        #expect(after.status == 200 && after.header("x-backend") == "healthy")
    }

    @Test func unknownHostsGet404NamingWhatWasAsked() async throws {
        let activator = try await ActivatorProcess(config: "targets:\n  - name: a\n    hosts: [a.local]\n")
        let response = try await activator.request(host: "evil.example", path: "/steal")
        #expect(response.status == 404)
        #expect(response.body.contains("\"evil.example\"") && response.body.contains("\"/steal\""))
    }

    @Test func canarySplitIsWithinThreePercentOverFiveThousandRequests() async throws {
        let stable = try await Backend.start(name: "v1")
        let canary = try await Backend.start(name: "v2")
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: m-v1
                endpoints: ["\(stable.address)"]
                readinessPath: /ready
              - name: m-v2
                endpoints: ["\(canary.address)"]
                readinessPath: /ready
            services:
              - name: m
                hosts: [m.local]
                default: m-v1
                canary: m-v2
                canaryTrafficPercent: 20
            """)
        try await activator.waitForReady("m-v1", endpoints: 1)
        try await activator.waitForReady("m-v2", endpoints: 1)
        let total = 5000, workers = 16
        let canaryCount = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var canaries = 0
                    for _ in stride(from: worker, to: total, by: workers) {
                        let response = try await activator.request(host: "m.local")
                        #expect(response.status == 200)
                        if response.header("x-backend") == "v2" { canaries += 1 }
                    }
                    return canaries
                }
            }
            return try await group.reduce(0, +)
        }
        let share = Double(canaryCount) / Double(total) * 100
        print("canary share: \(share) % of \(total) (configured 20 %)")
        #expect(abs(share - 20) <= 3)
    }

    @Test func aCapacityOfOnePerEndpointIsNeverExceeded() async throws {
        let one = try await Backend.start(name: "one")
        let two = try await Backend.start(name: "two")
        let activator = try await ActivatorProcess.serving("single", on: [one, two], settings: ["containerConcurrency: 1"])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 { group.addTask { try await activator.request(host: "single.local", path: "/slow?ms=20").status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 })
        let first = try await one.stats(), second = try await two.stats()
        #expect(first["maxInFlight"] == 1 && second["maxInFlight"] == 1, "\(first) \(second)")
        #expect((first["requests"] ?? 0) + (second["requests"] ?? 0) == 40)
        #expect((first["requests"] ?? 0) > 0 && (second["requests"] ?? 0) > 0, "both endpoints share the load")
    }

    @Test func aLargeUploadStreamsThroughWithBoundedActivatorMemory() async throws {
        let backend = try await Backend.start(name: "sink")
        let activator = try await ActivatorProcess.serving("sink", on: [backend])
        let before = activator.process.memory
        let size = 200 * 1024 * 1024
        let response = try await activator.request(host: "sink.local", path: "/upload", method: .POST,
                                                   body: [UInt8](repeating: 7, count: size), timeout: 120)
        #expect(response.status == 200)
        #expect(response.body.contains(#""bytes":\#(size)"#), "\(response.body)")
        let after = activator.process.memory
        print("activator resident memory: \(before.current / 1024) MiB before, peak \(after.peak / 1024) MiB during a \(size >> 20) MiB upload")
        #expect(after.peak - before.current < 64 * 1024, "peak grew by \((after.peak - before.current) / 1024) MiB for a \(size >> 20) MiB upload")
    }

    @Test func aFailedTargetTurnsItsWaitingRequestsAwayAtOnce() async throws {
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: broken
                hosts: [broken.local]
                timeoutSeconds: 60
            """)
        let started = Date()
        let responses = try await withThrowingTaskGroup(of: HTTPCall.Response.self) { group in
            for _ in 0..<3 { group.addTask { try await activator.request(host: "broken.local") } }
            try await activator.waitForTarget("broken") { $0["queueLength"] as? Int == 3 }
            try activator.rewrite("""
                targets:
                  - name: broken
                    hosts: [broken.local]
                    timeoutSeconds: 60
                    failure: "replica exits with status 1 (crash loop)"
                """)
            return try await group.reduce(into: [HTTPCall.Response]()) { $0.append($1) }
        }
        #expect(Date().timeIntervalSince(started) < 30, "waiting requests must not sit out their 60 s timeout")
        #expect(responses.allSatisfy { $0.status == 503 && $0.body.contains("crash loop") }, "\(responses.map(\.body))")
        let next = try await activator.request(host: "broken.local")
        #expect(next.status == 503 && next.body.contains("target broken cannot come up"))
    }
}

/// Request copies for a mirror target at zero: a bounded queue of their own, a short wait, both counted.
@Suite struct MirrorQueueTests {
    @Test func copiesForAMirrorAtZeroWaitBrieflyInABoundedQueueAndAreCountedWhenDropped() async throws {
        let primary = try await Backend.start(name: "primary")
        let config = """
            targets:
              - name: v1
                endpoints: ["\(primary.address)"]
                readinessPath: /ready
              - name: v2
                endpoints: []
            services:
              - name: shop
                hosts: [shop.local]
                default: v1
                mirror: v2
                mirrorPercent: 100

            """
        let activator = try await ActivatorProcess(config: config, arguments: ["--mirror-queue-limit", "5", "--mirror-wait-seconds", "4"])
        try await activator.waitForReady("v1", endpoints: 1)
        // All at once, so every copy arrives while the first five wait (4 s).
        try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let response = try await activator.request(host: "shop.local", path: "/infer", method: .POST, body: Array("x".utf8))
                    return (response.status, response.header("x-backend"))
                }
            }
            for try await (status, backend) in group {
                #expect(status == 200)
                #expect(backend == "primary", "the primary answers; the copies are never waited for")
            }
        }
        func dropped(_ reason: String) async throws -> Double {
            let text = try await activator.admin("/metrics").body
            let prefix = "thaw_activator_mirror_dropped_total{target=\"v2\",reason=\"\(reason)\"} "
            return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
        }
        #expect(try await dropped("queue_full") == 15, "5 copies wait; the other 15 are dropped at once")
        try await waitUntil("the 5 waiting copies to give up after 4 s", timeout: 15) { try await dropped("timeout") == 5 }
        try await activator.waitForTarget("v2", timeout: 5) { ($0["queueLength"] as? Int) == 0 }
        #expect(try await primary.stats()["requests"] == 20)
    }
}
