import Foundation
import Testing
import ThawTestSupport

/// gRPC through the activator (and a `thaw-queue` sidecar) with real peers nobody here wrote:
/// Python's grpcio as the client and as a KServe-V2-shaped model server (`grpc/`), the standard
/// health service from grpcio-health-checking as the readiness check.
@Suite(.serialized) struct GRPCTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("grpc").path

    /// A grpcio model server on a free port.
    struct ModelServer {
        let process: TestProcess
        let port: Int
        var address: String { "127.0.0.1:\(port)" }

        static func start(_ arguments: [String] = []) async throws -> ModelServer {
            let process = try TestProcess(url: try TestProcess.systemExecutable("python3"),
                                          arguments: ["\(GRPCTests.directory)/grpc_model_server.py"] + arguments, name: "grpc-model-server")
            let line = try await process.waitFor("listening on ", timeout: 30)
            guard let port = Int(line.split(separator: " ").last ?? "") else { throw TestFailure("cannot read the port from \"\(line)\"") }
            return ModelServer(process: process, port: port)
        }
    }

    /// A grpcio client run; its results, one per call, once it exits.
    struct ClientRun {
        let process: TestProcess

        init(_ arguments: [String]) throws {
            process = try TestProcess(url: try TestProcess.systemExecutable("python3"),
                                      arguments: ["\(GRPCTests.directory)/grpc_client.py"] + arguments, name: "grpc-client")
        }

        func results(timeout: Double = 60) async throws -> [[String: Any]] {
            guard try await process.waitForExit(timeout: timeout) == 0 else {
                throw TestFailure("the grpc client did not exit cleanly within \(timeout) s; stderr:\n\(process.stderr)")
            }
            return try process.stdout.split(separator: "\n").map { line in
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TestFailure("not a JSON object: \(line)")
                }
                return object
            }
        }
    }

    static func routes(endpoints: [String], settings: [String] = []) -> String {
        let list = endpoints.map { "\"\($0)\"" }.joined(separator: ", ")
        return (["targets:", "  - name: infer", "    hosts: [infer]", "    endpoints: [\(list)]", "    protocol: h2c",
                 "    readinessPath: /grpc.health.v1.Health/Check"] + settings.map { "    " + $0 }).joined(separator: "\n") + "\n"
    }

    static func codes(_ results: [[String: Any]]) -> [String] { results.map { $0["code"] as? String ?? "?" } }

    /// The activator's counter for its own answers of one reason.
    static func ownAnswers(_ activator: ActivatorProcess, reason: String) async throws -> Double {
        let text = try await activator.admin("/metrics").body
        let prefix = "thaw_activator_own_answers_total{target=\"infer\",reason=\"\(reason)\"} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func unaryAndStreamingCallsWaitAtZeroAndAreForwardedWhenAReplicaIsReady() async throws {
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: []))
        let target = "127.0.0.1:\(activator.port)"
        let unary = try ClientRun(["unary", target, "4", "--concurrency", "4", "--authority", "infer"])
        let stream = try ClientRun(["stream", target, "5", "--authority", "infer"])
        try await activator.waitForTarget("infer") { ($0["queueLength"] as? Int) == 5 }

        // The model server starts not serving; the activator's gRPC health check waits for it.
        let server = try await ModelServer.start(["--ready-after", "1", "--name", "replica-a"])
        try activator.rewrite(Self.routes(endpoints: [server.address]))
        let calls = try await unary.results()
        #expect(Self.codes(calls) == ["OK", "OK", "OK", "OK"], "\(calls)")
        #expect(calls.allSatisfy { ($0["values"] as? [Double]) == [2, 4, 6] && $0["server"] as? String == "replica-a" })
        let streamed = try await stream.results()
        #expect(Self.codes(streamed) == ["OK"], "\(streamed)")
        #expect(streamed.first?["values"] as? [Double] == [0, 2, 4, 6, 8])
        // Not before the replica was serving: forwarded by the health protocol's verdict. The calls
        // started before the server did, and it says SERVING a second after it starts.
        #expect(try await server.process.waitFor("serving").contains("serving"))
        #expect(calls.allSatisfy { ($0["seconds"] as? Double ?? 0) >= 1.0 }, "answered before the server was serving: \(calls)")
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains("thaw_activator_requests_total{target=\"infer\",code=\"200\"} 5"), "\(metrics)")
    }

    @Test func theTargetsTimeoutAndAFullQueueAreGRPCStatuses() async throws {
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [], settings: ["timeoutSeconds: 10", "queueLimit: 1"]))
        let target = "127.0.0.1:\(activator.port)"
        // One call waits (and runs out of the target's 10 s: long enough for the rest of the test
        // to run on a machine busy with the whole suite); the other two find the queue full.
        let waiting = try ClientRun(["unary", target, "1", "--authority", "infer"])
        try await activator.waitForTarget("infer") { ($0["queueLength"] as? Int) == 1 }
        let refused = try await ClientRun(["unary", target, "2", "--concurrency", "2", "--authority", "infer"]).results()
        #expect(Self.codes(refused) == ["UNAVAILABLE", "UNAVAILABLE"], "\(refused)")
        #expect(refused.allSatisfy { ($0["details"] as? String)?.contains("queue") == true }, "\(refused)")
        // The longest grpc-timeout there is (99,999,999 hours) is read without overflowing, and the
        // call is refused like the others; the first version of the activator trapped on it.
        let curl = try TestProcess(url: try TestProcess.systemExecutable("curl"), arguments: [
            "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "host: infer", "-H", "content-type: application/grpc",
            "-H", "grpc-timeout: 99999999H", "--data-binary", "@/dev/null",
            "http://127.0.0.1:\(activator.port)/inference.GRPCInferenceService/ModelInfer"], name: "curl")
        _ = try await curl.waitForExit(timeout: 10)
        #expect(curl.stdout.contains("grpc-status: 14"), "\(curl.stdout)")
        #expect(activator.process.process.isRunning)
        let timedOut = try await waiting.results()
        #expect(Self.codes(timedOut) == ["DEADLINE_EXCEEDED"], "\(timedOut)")
        #expect((timedOut.first?["details"] as? String)?.contains("infer") == true, "the activator's own message: \(timedOut)")
        #expect(try await Self.ownAnswers(activator, reason: "timeout") == 1)
        #expect(try await Self.ownAnswers(activator, reason: "queue_full") == 3)
    }

    @Test func theCallsOwnGRPCTimeoutEndsItWhileItWaits() async throws {
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: []))
        let results = try await ClientRun(["unary", "127.0.0.1:\(activator.port)", "1", "--timeout", "0.5", "--authority", "infer"]).results()
        #expect(Self.codes(results) == ["DEADLINE_EXCEEDED"], "\(results)")
        try await activator.waitForTarget("infer", timeout: 5) { ($0["queueLength"] as? Int) == 0 }
        // grpcio gives up at its deadline too, so the activator's own answer is seen with a client
        // that does not: curl sending grpc-timeout 300m gets DEADLINE_EXCEEDED from the activator.
        let started = Date()
        let curl = try TestProcess(url: try TestProcess.systemExecutable("curl"), arguments: [
            "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "host: infer", "-H", "content-type: application/grpc",
            "-H", "te: trailers", "-H", "grpc-timeout: 300m", "--data-binary", "@/dev/null",
            "http://127.0.0.1:\(activator.port)/inference.GRPCInferenceService/ModelInfer"], name: "curl")
        _ = try await curl.waitForExit(timeout: 10)
        let elapsed = Date().timeIntervalSince(started)
        #expect(curl.stdout.contains("grpc-status: 4"), "\(curl.stdout)")
        #expect(elapsed >= 0.3 && elapsed < 3, "answered at the call's 300 ms deadline, not the target's 300 s: \(elapsed) s")
        #expect(try await Self.ownAnswers(activator, reason: "timeout") >= 1)
    }

    @Test func aServerThatCrashesMidCallIsUnavailableAndTheNextCallGoesToAReplicaThatIsUp() async throws {
        let crashing = try await ModelServer.start(["--crash-after", "2", "--name", "crashing"])
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [crashing.address]))
        try await activator.waitForReady("infer", endpoints: 1)
        let target = "127.0.0.1:\(activator.port)"
        let results = try await ClientRun(["unary", target, "2", "--authority", "infer"]).results()
        #expect(Self.codes(results) == ["OK", "UNAVAILABLE"], "\(results)")
        #expect((results.last?["details"] as? String)?.contains("replica") == true, "\(results)")

        let healthy = try await ModelServer.start(["--name", "healthy"])
        try activator.rewrite(Self.routes(endpoints: [healthy.address]))
        try await activator.waitForReady("infer", endpoints: 1)
        let after = try await ClientRun(["unary", target, "2", "--authority", "infer"]).results()
        #expect(Self.codes(after) == ["OK", "OK"], "\(after)")
        #expect(after.allSatisfy { $0["server"] as? String == "healthy" })
    }

    @Test func aSlowReaderHoldsTheReplicaBackInsteadOfFillingTheActivatorsMemory() async throws {
        let server = try await ModelServer.start()
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [server.address]))
        try await activator.waitForReady("infer", endpoints: 1)
        let before = activator.process.memory.current
        // 48 MiB streamed to a client that reads 256 KiB every 20 ms: flow control must hold the
        // server back, as the activator's windows close, rather than the activator buffering it.
        let results = try await ClientRun(["slowstream", "127.0.0.1:\(activator.port)", "192", "--size", "262144", "--pause", "0.02",
                                           "--authority", "infer"]).results()
        #expect(Self.codes(results) == ["OK"], "\(results)")
        #expect(results.first?["bytes"] as? Int == 192 * 262_144)
        let grown = activator.process.memory.peak - before
        #expect(grown < 16 * 1024, "the activator's peak memory grew by \(grown) KiB while 48 MiB streamed through")
    }

    @Test func aCancelledCallIsCancelledOnTheReplicaAndGivesItsSlotBack() async throws {
        let server = try await ModelServer.start(["--delay", "5"])
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [server.address], settings: ["containerConcurrency: 1"]))
        try await activator.waitForReady("infer", endpoints: 1)
        let results = try await ClientRun(["cancel", "127.0.0.1:\(activator.port)", "--after", "0.5", "--authority", "infer"]).results()
        #expect(Self.codes(results) == ["CANCELLED"])
        // RST_STREAM went on to the replica, whose grpcio saw the call end.
        try await server.process.waitFor("call c cancelled", timeout: 5)
        try await activator.waitForTarget("infer", timeout: 5) { ($0["activeRequests"] as? Int) == 0 }
    }

    @Test func eachStreamCountsAgainstContainerConcurrency() async throws {
        let server = try await ModelServer.start(["--delay", "0.3"])
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [server.address], settings: ["containerConcurrency: 1"]))
        try await activator.waitForReady("infer", endpoints: 1)
        let run = try ClientRun(["unary", "127.0.0.1:\(activator.port)", "4", "--concurrency", "4", "--authority", "infer"])
        // Four calls on one connection: one at the replica, the rest queued.
        var mostQueued = 0
        while run.process.process.isRunning {
            let status = try JSONSerialization.jsonObject(with: Data(try await activator.admin("/status").body.utf8)) as? [String: Any]
            let entry = (status?["targets"] as? [[String: Any]])?.first ?? [:]
            mostQueued = max(mostQueued, entry["queueLength"] as? Int ?? 0)
            try await Task.sleep(for: .milliseconds(20))
        }
        let results = try await run.results()
        #expect(Self.codes(results) == ["OK", "OK", "OK", "OK"], "\(results)")
        // The server's own count of calls in progress, printed as each starts.
        let inFlight = server.process.stdout.split(separator: "\n").compactMap { $0.hasPrefix("in flight ") ? Int($0.dropFirst(10)) : nil }
        #expect(inFlight == [1, 1, 1, 1], "\(inFlight)")
        #expect(mostQueued >= 2)
        #expect(results.map { $0["seconds"] as? Double ?? 0 }.max()! >= 1.1, "four 0.3 s calls one at a time: \(results)")
    }

    @Test func httpOneAndHTTPTwoShareAPortAndEachTargetTakesOnlyItsOwn() async throws {
        let backend = try await Backend.start(name: "web")
        let server = try await ModelServer.start()
        let config = Self.routes(endpoints: [server.address]) + """
              - name: web
                hosts: [web]
                endpoints: ["\(backend.address)"]
                readinessPath: /ready

            """
        let activator = try await ActivatorProcess(config: config)
        try await activator.waitForReady("infer", endpoints: 1)
        try await activator.waitForReady("web", endpoints: 1)
        let grpc = try await ClientRun(["unary", "127.0.0.1:\(activator.port)", "1", "--authority", "infer"]).results()
        #expect(Self.codes(grpc) == ["OK"])
        #expect(try await activator.request(host: "web").status == 200)
        let wrongWay = try await activator.request(host: "infer")
        #expect(wrongWay.status == 505)
        #expect(wrongWay.body.contains("HTTP/2"))
        let curl = try TestProcess(url: try TestProcess.systemExecutable("curl"), arguments: [
            "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "-H", "host: web",
            "http://127.0.0.1:\(activator.port)/"], name: "curl")
        _ = try await curl.waitForExit(timeout: 10)
        #expect(curl.stdout == "2 505", "an HTTP/2 request for an HTTP/1.1 target: \(curl.stdout)")
    }

    @Test func onDrainInFlightCallsFinishAfterGOAWAY() async throws {
        let server = try await ModelServer.start(["--delay", "1.5"])
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: [server.address]), arguments: ["--drain-seconds", "10"])
        try await activator.waitForReady("infer", endpoints: 1)
        let run = try ClientRun(["unary", "127.0.0.1:\(activator.port)", "2", "--concurrency", "2", "--authority", "infer"])
        try await activator.waitForTarget("infer") { ($0["activeRequests"] as? Int) == 2 }
        activator.process.signal(SIGTERM)
        let results = try await run.results()
        #expect(Self.codes(results) == ["OK", "OK"], "\(results)")
        #expect(try await activator.process.waitForExit(timeout: 10) == 0)
    }

    @Test func aSidecarInFrontOfAGRPCServerProbesItByItsOwnReadinessRPCAndCountsItsStreams() async throws {
        // KServe's ServerReady answers ready: false (an empty message) for the first half second.
        let server = try await ModelServer.start(["--ready-after", "0.5"])
        let sidecar = try TestProcess("thaw-queue", [
            "--target", "infer", "--replica", "replica-1", "--upstream", server.address, "--protocol", "grpc",
            "--readiness-path", "/inference.GRPCInferenceService/ServerReady",
            "--container-concurrency", "2", "--port", "0", "--admin-port", "0"], name: "thaw-queue")
        let line = try await sidecar.waitFor("thaw-queue listening")
        func port(_ key: String) throws -> Int {
            guard let range = line.range(of: key + "="), let token = line[range.upperBound...].split(separator: " ").first,
                  let port = Int(token.split(separator: ":").last ?? "") else { throw TestFailure("no \(key) port in \(line)") }
            return port
        }
        let (queuePort, queueAdmin) = (try port("proxy"), try port("admin"))
        // The activator's gRPC probe of the sidecar is answered from the sidecar's own probe of the server.
        let activator = try await ActivatorProcess(config: Self.routes(endpoints: ["127.0.0.1:\(queuePort)"]))
        try await activator.waitForReady("infer", endpoints: 1)
        let results = try await ClientRun(["unary", "127.0.0.1:\(activator.port)", "3", "--concurrency", "3", "--authority", "infer"]).results()
        #expect(Self.codes(results) == ["OK", "OK", "OK"], "\(results)")
        let metrics = try await Client.call(port: queueAdmin, path: "/metrics").body
        #expect(metrics.contains("thaw_queue_requests_total{target=\"infer\",code=\"200\"} 3"), "\(metrics)")
        #expect(sidecar.stderr.contains("endpoint passed its readiness probe"), "\(sidecar.stderr)")
    }
}
