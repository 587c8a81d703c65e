import Activator
import ActivatorCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import ThawTestSupport
import ThawVocabulary

/// What the activator tells the autoscaler, how it shuts down, and how it treats HTTP details,
/// checked against real processes.
@Suite(.serialized) struct ActivatorSignalTests {
    static func recorded(_ path: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func aRequestForAnIdleTargetPokesTheAutoscalerAtOnceAndStatsFollowEverySecond() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-autoscaler-\(UUID().uuidString).jsonl").path
        let autoscaler = try await Backend.start(name: "autoscaler", arguments: ["--record", log])
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: idle
                hosts: [idle.local]
                timeoutSeconds: 3
            """, arguments: ["--autoscaler-url", "http://\(autoscaler.address)"])
        async let answer = activator.request(host: "idle.local")
        try await waitUntil("a poke") { Self.recorded(log).contains { $0["path"] as? String == "/v1/poke" } }
        let poke = try #require(Self.recorded(log).first { $0["path"] as? String == "/v1/poke" }?["body"] as? [String: Any])
        #expect(poke["target"] as? String == "idle")
        #expect(poke["queueLength"] as? Int == 1)
        #expect(poke["source"] as? String == "activator")

        try await waitUntil("a stat report") { Self.recorded(log).contains { $0["path"] as? String == "/v1/stats" } }
        let batch = try #require(Self.recorded(log).first { $0["path"] as? String == "/v1/stats" }?["body"] as? [String: Any])
        let stat = try #require((batch["stats"] as? [[String: Any]])?.first)
        #expect(stat["target"] as? String == "idle")
        #expect(stat["queueLength"] as? Int == 1)
        #expect(stat["requestCount"] as? Double == 1)
        let concurrency = try #require(stat["averageConcurrency"] as? Double)
        #expect(concurrency > 0 && concurrency <= 1, "one queued request for part or all of the second")
        #expect(try await answer.status == 504)
    }

    @Test func statsAreKeptAndRetriedWhileTheAutoscalerIsDown() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-autoscaler-\(UUID().uuidString).jsonl").path
        // Reserve a port for the autoscaler, then stop it so nothing listens there yet.
        let placeholder = try await Backend.start(name: "placeholder")
        let port = placeholder.port
        placeholder.process.signal(SIGKILL)
        _ = try await placeholder.process.waitForExit(timeout: 5)
        let backend = try await Backend.start(name: "b")
        let activator = try await ActivatorProcess.serving("served", on: [backend], arguments: ["--autoscaler-url", "http://127.0.0.1:\(port)"])
        for _ in 0..<5 { #expect(try await activator.request(host: "served.local").status == 200) }
        try await activator.process.waitFor("cannot send stats to the autoscaler")
        let autoscaler = try await Backend.start(name: "autoscaler", arguments: ["--record", log], port: port)
        try await waitUntil("the stats sent while the autoscaler was down") {
            Self.recorded(log).contains { $0["path"] as? String == "/v1/stats" }
        }
        let stats = Self.recorded(log).filter { $0["path"] as? String == "/v1/stats" }
            .flatMap { ($0["body"] as? [String: Any])?["stats"] as? [[String: Any]] ?? [] }
        let counted = stats.compactMap { $0["requestCount"] as? Double }.reduce(0, +)
        #expect(counted == 5, "the five requests made while the autoscaler was down are reported once it is back")
        _ = autoscaler
    }

    @Test func sigtermLetsInFlightRequestsFinishThenExitsCleanly() async throws {
        let backend = try await Backend.start(name: "slow")
        let activator = try await ActivatorProcess.serving("slow", on: [backend], arguments: ["--drain-seconds", "10"])
        async let slow = activator.request(host: "slow.local", path: "/slow?ms=1500")
        try await activator.waitForTarget("slow") { $0["activeRequests"] as? Int == 1 }
        activator.process.signal(SIGTERM)
        try await activator.process.waitFor("shutting down")
        await #expect(throws: (any Error).self, "no new connections after SIGTERM") {
            try await activator.request(host: "slow.local", timeout: 2)
        }
        let response = try await slow
        #expect(response.status == 200, "the in-flight request finished during the drain")
        #expect(try await activator.process.waitForExit(timeout: 10) == 0)
    }

    @Test func aBrokenReloadKeepsThePreviousRoutes() async throws {
        let backend = try await Backend.start(name: "kept")
        let activator = try await ActivatorProcess.serving("kept", on: [backend])
        try activator.rewrite("targets:\n  - name: kept\n    endpoint: [oops]\n")
        try await activator.process.waitFor("routing file has an error")
        #expect(activator.process.stderr.contains("unknown field \"targets[0].endpoint\""))
        #expect(try await activator.request(host: "kept.local").status == 200)
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_config_reloads_total{result="error"} 1"#))
    }

    @Test func aRoutingFileRemovedOrReplacedByADirectoryIsSaidAndTheRoutesKept() async throws {
        let backend = try await Backend.start(name: "kept")
        let activator = try await ActivatorProcess.serving("kept", on: [backend])
        let config = try activator.rewriteWith { try FileManager.default.removeItem(atPath: $0) }
        try await activator.process.waitFor("the routing file cannot be read")
        #expect(activator.process.stderr.contains("it no longer exists"), "\(activator.process.stderr)")
        #expect(try await activator.request(host: "kept.local").status == 200, "the previous routes serve on")
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: false)
        try await Task.sleep(for: .milliseconds(600))
        #expect(activator.process.stderr.components(separatedBy: "the routing file cannot be read").count == 2, "said once while it lasts")
        try FileManager.default.removeItem(atPath: config)
        try ActivatorProcess.routes("kept", on: [backend]).write(toFile: config, atomically: true, encoding: .utf8)
        try await activator.process.waitFor("the routing file can be read again")
        // A directory from the start of the outage is named as one.
        try FileManager.default.removeItem(atPath: config)
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: false)
        try await waitUntil("the directory named", timeout: 10) { activator.process.stderr.contains("it is now a directory") }
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_config_reloads_total{result="error"} 2"#), "\(metrics)")
    }

    @Test func aRefusedConnectionIsRetriedOnAnotherEndpoint() async throws {
        let alive = try await Backend.start(name: "alive")
        let dying = try await Backend.start(name: "dying")
        let activator = try await ActivatorProcess.serving("pair", on: [alive, dying])
        dying.process.signal(SIGKILL)
        _ = try await dying.process.waitForExit(timeout: 5)
        for _ in 0..<10 {
            let response = try await activator.request(host: "pair.local")
            #expect(response.status == 200 && response.header("x-backend") == "alive")
        }
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_retries_total{target="pair"} 1"#), "one refused connect, then the endpoint is out until probed again")
    }

    @Test func theRoutingExampleInHelpIsAValidRoutingFile() async throws {
        let help = try TestProcess("thaw-activator", ["--help"])
        #expect(try await help.waitForExit(timeout: 10) == 0)
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "targets:" })
        let indent = lines[start].prefix { $0 == " " }.count
        let example = lines[start...].prefix { $0.prefix(indent).allSatisfy { $0 == " " } && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { String($0.dropFirst(indent)) }.joined(separator: "\n")
        let config = try RoutingConfig.parse(example, file: "--help")
        #expect(config.targets.map(\.name) == ["mnist-v1", "mnist-v2"])
        #expect(config.services.first?.canaryTrafficPercent == 20)
    }

    @Test func startupFailsLoudlyOnABadRoutingFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-bad-\(UUID().uuidString).yaml").path
        try "targets:\n  - name: x\n    endpoints: [\"127.0.0.1\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let process = try TestProcess("thaw-activator", ["--config", path, "--port", "0", "--admin-port", "0"])
        #expect(try await process.waitForExit(timeout: 10) != 0)
        #expect(process.stderr.contains(path) && process.stderr.contains("targets[0].endpoints[0]"), "\(process.stderr)")
    }
}

/// Slow clients, early answers and closing connections: the cases where a proxy loses bytes or
/// leaves a connection stuck.
@Suite(.serialized) struct ActivatorSlowClientTests {
    static func activator(_ backend: Backend) async throws -> ActivatorProcess {
        try await ActivatorProcess.serving("s", on: [backend], settings: ["timeoutSeconds: 8"], arguments: ["--threads", "1"])
    }

    @Test func aConnectionPausedForASlowClientServesTheNextRequest() async throws {
        let backend = try await Backend.start(name: "s")
        let activator = try await Self.activator(backend)
        let base = "http://127.0.0.1:\(activator.port)"
        // 24 MB read at 12 MB/s: more than the socket buffers hold, so the activator must pause the replica.
        let slow = try await ActivatorHTTPTests.curl(["-o", "/dev/null", "-w", "%{size_download}", "--limit-rate", "12M",
                                                     "-H", "Host: s.local", "\(base)/big?n=24000000"])
        #expect(slow.stdout == "24000000", "\(slow.stderr)")
        let next = try await activator.request(host: "s.local", path: "/small", timeout: 6)
        #expect(next.status == 200, "the pooled connection must not stay paused: \(next.body)")
    }

    @Test func aResponseEndingInACloseArrivesWhole() async throws {
        let backend = try await Backend.start(name: "s")
        let activator = try await Self.activator(backend)
        let base = "http://127.0.0.1:\(activator.port)"
        for version in ["--http1.1", "--http1.0"] {
            let result = try await ActivatorHTTPTests.curl([version, "-o", "/dev/null", "-w", "%{size_download}", "--limit-rate", "24M",
                                                           "-H", "Connection: close", "-H", "Host: s.local", "\(base)/big?n=24000000"])
            #expect(result.status == 0 && result.stdout == "24000000", "\(version): \(result.stdout) \(result.stderr)")
        }
    }

    @Test func anEarlyAnswerToALargeUploadReachesTheClientAndTheConnectionEnds() async throws {
        let backend = try await Backend.start(name: "s")
        let activator = try await Self.activator(backend)
        let body = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-upload-\(UUID().uuidString)").path
        try Data(repeating: 2, count: 30_000_000).write(to: URL(fileURLWithPath: body))
        let started = Date()
        let result = try await ActivatorHTTPTests.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: s.local", "-H", "Expect:",
                                                       "--data-binary", "@\(body)", "http://127.0.0.1:\(activator.port)/early"])
        #expect(result.stdout == "413", "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 15, "the client must not be left hanging")
        #expect(try await activator.admin("/healthz").status == 200)
        #expect(try await activator.request(host: "s.local").status == 200)
    }
}

/// HTTP details through the activator, seen by curl as a real client.
@Suite(.serialized) struct ActivatorHTTPTests {
    static func curl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let curl = try TestProcess.systemExecutable("curl")
        let process = try TestProcess(url: curl, arguments: ["-sS"] + arguments, name: "curl")
        let status = try await process.waitForExit(timeout: 60) ?? -1
        return (status, process.stdout, process.stderr)
    }

    @Test func headersKeepAliveChunkedAndExpectContinue() async throws {
        let backend = try await Backend.start(name: "h")
        let activator = try await ActivatorProcess.serving("h", on: [backend])
        let base = "http://127.0.0.1:\(activator.port)"

        let headers = try await Self.curl(["-H", "Host: h.local", "-H", "Connection: keep-alive, X-Secret",
                                           "-H", "X-Secret: hop", "-H", "X-Forwarded-For: 10.0.0.1", "\(base)/headers"])
        #expect(headers.status == 0, "\(headers.stderr)")
        #expect(headers.stdout.contains("x-forwarded-for: 10.0.0.1, 127.0.0.1"))
        #expect(headers.stdout.contains("forwarded: for=127.0.0.1;proto=http;host=\"h.local\""))
        #expect(headers.stdout.contains("thaw-proxied-by: activator"))
        #expect(!headers.stdout.contains("x-secret"), "a header named in Connection is hop-by-hop")

        let twice = try await Self.curl(["-v", "-H", "Host: h.local", "\(base)/a", "\(base)/b"])
        #expect(twice.stdout == "Hello World!\nHello World!\n")
        #expect(twice.stderr.contains("Re-using existing connection") || twice.stderr.contains("Reusing existing connection"), "\(twice.stderr)")

        let body = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-body-\(UUID().uuidString)").path
        try Data(repeating: 1, count: 3_000_000).write(to: URL(fileURLWithPath: body))
        let chunked = try await Self.curl(["-H", "Host: h.local", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(body)", "\(base)/up"])
        #expect(chunked.stdout.contains(#""bytes":3000000"#), "\(chunked.stderr)")

        let expect = try await Self.curl(["-v", "-H", "Host: h.local", "-H", "Expect: 100-continue", "--data-binary", "@\(body)", "\(base)/up"])
        #expect(expect.stderr.contains("HTTP/1.1 100 Continue"), "\(expect.stderr)")
        #expect(expect.stdout.contains(#""bytes":3000000"#))

        let pipelined = try await RawClient.exchange(port: activator.port,
            "GET /slow?ms=50 HTTP/1.1\r\nHost: h.local\r\n\r\nGET /headers HTTP/1.1\r\nHost: nowhere.local\r\n\r\nGET /a HTTP/1.1\r\nHost: h.local\r\n\r\n") {
                $0.components(separatedBy: "HTTP/1.1 ").count == 4
            }
        let statuses = pipelined.split(whereSeparator: \.isNewline).map(String.init)
            .filter { $0.hasPrefix("HTTP/1.1 ") }
        #expect(statuses == ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"], "pipelined requests are answered in order: \(pipelined)")

        let chunkedResponse = try await Self.curl(["-v", "-H", "Host: h.local", "\(base)/chunked?n=5"])
        #expect(chunkedResponse.stdout == (0..<5).map { "chunk \($0)\n" }.joined(), "\(chunkedResponse.stderr)")
        #expect(chunkedResponse.stderr.lowercased().contains("transfer-encoding: chunked"))

        let unframed = try await Self.curl(["-v", "-H", "Host: h.local", "\(base)/unframed?n=4"])
        #expect(unframed.stdout == (0..<4).map { "chunk \($0)\n" }.joined(), "\(unframed.stderr)")
        #expect(unframed.stderr.lowercased().contains("connection: close"))

        let headThenGet = try await RawClient.exchange(port: activator.port,
            "HEAD /a HTTP/1.1\r\nHost: h.local\r\n\r\nGET /b HTTP/1.1\r\nHost: h.local\r\n\r\n") {
                $0.hasSuffix("Hello World!\n")
            }
        #expect(headThenGet.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "a HEAD answer has no body, and the connection goes on: \(headThenGet)")
        #expect(headThenGet.components(separatedBy: "Hello World!").count == 2)

        let oldClient = try await RawClient.exchange(port: activator.port, "GET /chunked?n=2 HTTP/1.0\r\nHost: h.local\r\n\r\n") { _ in false }
        #expect(oldClient.hasPrefix("HTTP/1.0 200 OK"), "\(oldClient)")
        #expect(!oldClient.lowercased().contains("transfer-encoding"), "an HTTP/1.0 client never gets a chunked body")
        #expect(oldClient.hasSuffix("chunk 0\nchunk 1\n"))

        let upgrade = try await Self.curl(["-v", "-H", "Host: h.local", "-H", "Connection: Upgrade", "-H", "Upgrade: h2c", "\(base)/u"])
        #expect(upgrade.stdout == "Hello World!\n")
        #expect(upgrade.stderr.lowercased().contains("connection: close"), "nothing more can be parsed after an upgrade request")

        // A body that is itself a request must reach the replica as a body, never as a second request.
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: h.local\r\n\r\n"
        let smuggle = try await RawClient.exchange(port: activator.port,
            "POST /up HTTP/1.1\r\nHost: h.local\r\nConnection: content-length\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)") {
                $0.contains("\"bytes\"")
            }
        #expect(smuggle.contains("{\"bytes\":\(smuggled.utf8.count)}"), "\(smuggle)")

        // After an upgrade request or CONNECT, NIO's parser stops: the answer closes the connection.
        let stopped = try await RawClient.exchange(port: activator.port,
            "GET / HTTP/1.1\r\nHost: nowhere.local\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nGET /a HTTP/1.1\r\nHost: h.local\r\n\r\n") { _ in false }
        #expect(stopped.hasPrefix("HTTP/1.1 404") && stopped.lowercased().contains("connection: close"), "\(stopped)")

        let oldChunked = try await RawClient.exchange(port: activator.port,
            "POST /up HTTP/1.0\r\nHost: h.local\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") { _ in false }
        #expect(oldChunked.hasPrefix("HTTP/1.0 400"), "\(oldChunked)")

        let close = try await Self.curl(["-v", "-H", "Host: h.local", "-H", "Connection: close", "\(base)/c"])
        #expect(close.stdout == "Hello World!\n")
        #expect(close.stderr.lowercased().contains("connection: close"))
    }
}
