import Activator
import ControlHTTP
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import ThawTestSupport

/// A real `thaw-queue` process (the replica sidecar) in front of a model server.
final class SidecarProcess: Sendable {
    let process: TestProcess
    let port: Int
    let adminPort: Int
    let target: String
    let replica: String

    /// - Parameter environment: when set, the target, replica, model server and readiness path come from
    ///   these variables, as a pod's Downward API gives them, instead of flags.
    init(target: String, replica: String, upstream: Backend, arguments: [String] = [], environment: [String: String]? = nil) async throws {
        self.target = target
        self.replica = replica
        let settings = environment == nil
            ? ["--target", target, "--replica", replica, "--upstream", upstream.address, "--readiness-path", "/ready"] : []
        process = try TestProcess("thaw-queue", settings + ["--port", "0", "--admin-port", "0"] + arguments,
                                  name: "thaw-queue", environment: environment ?? [:])
        let line = try await process.waitFor("thaw-queue listening")
        func parsePort(_ key: String) throws -> Int {
            guard let range = line.range(of: key + "="),
                  let token = line[range.upperBound...].split(separator: " ").first,
                  let port = Int(token.split(separator: ":").last ?? "") else {
                throw TestFailure("cannot read \(key) port from \"\(line)\"")
            }
            return port
        }
        port = try parsePort("proxy")
        adminPort = try parsePort("admin")
    }

    func request(_ path: String = "/", headers: [(String, String)] = [], timeout: Double = 30) async throws -> HTTPCall.Response {
        try await Client.call(port: port, path: path, headers: headers, timeout: timeout)
    }

    func probe() async throws -> HTTPCall.Response {
        try await request("/", headers: [("Thaw-Probe", "test")], timeout: 15)
    }

    func admin(_ path: String) async throws -> HTTPCall.Response {
        try await Client.call(port: adminPort, path: path, timeout: 15)
    }

    /// The sidecar's one target as `/status` shows it.
    func status() async throws -> [String: Any] {
        let body = try await admin("/status").body
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let targets = object?["targets"] as? [[String: Any]] ?? []
        guard let entry = targets.first(where: { $0["name"] as? String == target }) else {
            throw TestFailure("no target \(target) in /status: \(body)")
        }
        return entry
    }

    /// Waits until the sidecar's probe and /readyz both answer 200.
    func waitForReady(timeout: Double = 20) async throws {
        try await waitUntil("the sidecar to turn ready", timeout: timeout) {
            let probe = try await self.probe().status
            let readyz = try await self.admin("/readyz").status
            return probe == 200 && readyz == 200
        }
    }
}

/// `thaw-queue`, the replica sidecar, checked end to end: real processes on 127.0.0.1.
@Suite(.serialized) struct SidecarTests {
    /// Every stat report that the fake autoscaler recorded under /v1/stats.
    static func statReports(_ log: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["path"] as? String == "/v1/stats" }
            .flatMap { ($0["body"] as? [String: Any])?["stats"] as? [[String: Any]] ?? [] }
    }

    /// Sends `count` GETs for `path` at once; returns their statuses.
    static func concurrent(_ count: Int, _ path: String, to sidecar: SidecarProcess) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count { group.addTask { try await sidecar.request(path).status } }
            var statuses: [Int] = []
            for try await status in group { statuses.append(status) }
            return statuses
        }
    }

    @Test func probesAndReadyzFollowTheModelServersReadiness() async throws {
        // The model server is ready once the test creates this file, however slow the machine is.
        let readyFile = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-model-ready-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        let model = try await Backend.start(name: "model", arguments: ["--ready-file", readyFile.path])
        let sidecar = try await SidecarProcess(target: "digits", replica: "digits-1", upstream: model)
        let early = try await sidecar.probe()
        #expect(early.status == 503, "a probe before the model server is ready is refused; got \(early.status): \(early.body)")
        #expect(try await sidecar.admin("/readyz").status == 503)
        #expect(try await sidecar.admin("/healthz").status == 200, "alive even while the model loads")
        try Data().write(to: readyFile)
        try await sidecar.waitForReady()
        #expect(try await sidecar.probe().status == 200)
        #expect(try await sidecar.admin("/readyz").status == 200)
        let stats = try await model.stats()
        #expect(stats["readyAt"].map { $0 > 0 } == true, "the model server answered its readiness path with 200")
        #expect(stats["requests"] == 0, "probes on the sidecar port are answered by the sidecar, not forwarded")
    }

    @Test func inAPodTheSettingsComeFromTheDownwardAPIEnvironment() async throws {
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "ml/digits", replica: "digits-7d9f-x2x", upstream: model, environment: [
            "POD_NAMESPACE": "ml", "THAW_WORKLOAD": "digits", "POD_NAME": "digits-7d9f-x2x",
            "THAW_UPSTREAM": model.address, "THAW_READINESS_PATH": "/ready",
        ])
        try await sidecar.waitForReady()
        #expect(try await sidecar.status()["readyEndpoints"] as? [String] == [model.address])
        #expect(try await sidecar.request("/hello").status == 200)

        // A setting given neither as a flag nor in the environment is named in the error.
        let missing = try TestProcess("thaw-queue", ["--port", "0", "--admin-port", "0"], name: "thaw-queue",
                                      environment: ["POD_NAMESPACE": "ml", "THAW_WORKLOAD": "digits", "THAW_UPSTREAM": model.address])
        #expect(try await missing.waitForExit(timeout: 20) != 0)
        #expect(missing.stderr.contains("give --replica NAME, or POD_NAME in the environment"), "\(missing.stderr)")
    }

    @Test func containerConcurrencyCapsRequestsAtTheModelServer() async throws {
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "capped", replica: "capped-1", upstream: model,
                                               arguments: ["--container-concurrency", "2"])
        try await sidecar.waitForReady()
        let statuses = try await Self.concurrent(8, "/slow?ms=300", to: sidecar)
        #expect(statuses.allSatisfy { $0 == 200 }, "statuses: \(statuses)")
        let stats = try await model.stats()
        #expect(stats["requests"] == 8, "every request reached the model server once")
        let most = try #require(stats["maxInFlight"])
        #expect(most == 2, "8 requests of 300 ms at once reach the model server 2 at a time with --container-concurrency 2, got \(Int(most))")
    }

    @Test func requestsBeyondTheQueueLimitGet503() async throws {
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "narrow", replica: "narrow-1", upstream: model,
                                               arguments: ["--container-concurrency", "1"])
        try await sidecar.waitForReady()
        // One at the model server and ten queued (10 × container concurrency); the rest are refused.
        let statuses = try await Self.concurrent(20, "/slow?ms=500", to: sidecar)
        let ok = statuses.filter { $0 == 200 }.count
        let refused = statuses.filter { $0 == 503 }.count
        #expect(ok + refused == 20, "only 200 and 503 expected; statuses: \(statuses.sorted())")
        #expect(refused >= 1, "20 requests at once overflow a queue of 10; statuses: \(statuses.sorted())")
        #expect(ok >= 10, "one in flight plus ten queued succeed (one of slack); got \(ok) × 200")
        let stats = try await model.stats()
        #expect(stats["maxInFlight"] == 1)
        #expect(stats["requests"] == Double(ok), "refused requests never reach the model server")
        let metrics = try await sidecar.admin("/metrics").body
        #expect(metrics.contains(#"thaw_queue_requests_total{target="narrow",code="503"} \#(refused)"#), "metrics:\n\(metrics)")
    }

    @Test func statReportsCountRequestsAndTellProxiedOnesApart() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-queue-autoscaler-\(UUID().uuidString).jsonl").path
        let autoscaler = try await Backend.start(name: "autoscaler", arguments: ["--record", log])
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "counted", replica: "counted-7", upstream: model,
                                               arguments: ["--autoscaler-url", "http://\(autoscaler.address)"])
        try await sidecar.waitForReady()
        // Idle seconds are reported too: the autoscaler needs them to tell "no traffic" from "no data".
        try await waitUntil("an idle stat report") {
            Self.statReports(log).contains { $0["requestCount"] as? Double == 0 }
        }
        let proxied = 4, direct = 3
        for _ in 0..<proxied {
            #expect(try await sidecar.request("/", headers: [("Thaw-Proxied-By", "activator")]).status == 200)
        }
        for _ in 0..<direct {
            #expect(try await sidecar.request("/").status == 200)
        }
        for _ in 0..<5 { #expect(try await sidecar.probe().status == 200) }

        func sum(_ key: String) -> Double {
            Self.statReports(log).compactMap { $0[key] as? Double }.reduce(0, +)
        }
        try await waitUntil("every request in the stat reports") { sum("requestCount") >= Double(proxied + direct) }
        // Two more reporting periods, so a double count or a counted probe would show.
        let settle = Self.statReports(log).count
        try await waitUntil("two more stat reports") { Self.statReports(log).count >= settle + 2 }

        let reports = Self.statReports(log)
        #expect(!reports.isEmpty)
        #expect(reports.allSatisfy { $0["source"] as? String == "counted-7" }, "source is the --replica name: \(reports)")
        #expect(reports.allSatisfy { $0["target"] as? String == "counted" }, "target is --target: \(reports)")
        #expect(sum("requestCount") == Double(proxied + direct), "all requests counted once, probes not at all: \(reports)")
        #expect(sum("proxiedRequestCount") == Double(proxied), "only requests with Thaw-Proxied-By are proxied: \(reports)")
        #expect(reports.contains { $0["requestCount"] as? Double == 0 && $0["proxiedRequestCount"] as? Double == 0 })
        #expect(reports.allSatisfy { $0["queueLength"] as? Int == 0 })
        #expect(!(try String(contentsOfFile: log, encoding: .utf8)).contains("/v1/poke"), "a sidecar never pokes")
        #expect(try await model.stats()["requests"] == Double(proxied + direct))
    }

    @Test func aRequestWaitingForTheModelServerPokesNoOne() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-queue-pokes-\(UUID().uuidString).jsonl").path
        let readyFile = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-model-ready-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        let autoscaler = try await Backend.start(name: "autoscaler", arguments: ["--record", log])
        let model = try await Backend.start(name: "model", arguments: ["--ready-file", readyFile.path])
        let sidecar = try await SidecarProcess(target: "loading", replica: "loading-1", upstream: model,
                                               arguments: ["--autoscaler-url", "http://\(autoscaler.address)"])
        // The model server is still loading: the request waits in the sidecar, which is where an
        // activator would poke. A sidecar's replica exists, so it must not.
        async let waiting = sidecar.request("/")
        try await waitUntil("the request to wait") { try await sidecar.status()["queueLength"] as? Int == 1 }
        try Data().write(to: readyFile)
        #expect(try await waiting.status == 200, "answered once the model server is ready")
        let metrics = try await sidecar.admin("/metrics").body
        #expect(metrics.contains(#"thaw_queue_pokes_total{target="loading"} 0"#), "no poke counted; metrics:\n\(metrics)")
        #expect(!((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("/v1/poke"), "no poke sent")
    }

    @Test func metricsCountAnsweredRequestsByCode() async throws {
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "metered", replica: "metered-1", upstream: model)
        try await sidecar.waitForReady()
        for _ in 0..<3 { #expect(try await sidecar.request("/").status == 200) }
        _ = try await sidecar.probe()
        let metrics = try await sidecar.admin("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"thaw_queue_requests_total{target="metered",code="200"} 3"#),
                "three answered requests, the probe not counted; metrics:\n\(metrics.body)")
        #expect(!metrics.body.contains("thaw_activator_"), "the sidecar's series use the thaw_queue namespace")
    }

    @Test func sigtermLetsAnInFlightRequestFinishThenExitsCleanly() async throws {
        let model = try await Backend.start(name: "model")
        let sidecar = try await SidecarProcess(target: "draining", replica: "draining-1", upstream: model,
                                               arguments: ["--drain-seconds", "10"])
        try await sidecar.waitForReady()
        async let slow = sidecar.request("/slow?ms=6000")
        try await waitUntil("the request to be in flight") { try await sidecar.status()["activeRequests"] as? Int == 1 }
        sidecar.process.signal(SIGTERM)
        try await sidecar.process.waitFor("shutting down")
        #expect(try await sidecar.admin("/readyz").status == 503, "not ready while draining")
        try await waitUntil("the proxy port to stop accepting connections", timeout: 4) {
            (try? await sidecar.request("/", timeout: 0.5)) == nil
        }
        let response = try await slow
        #expect(response.status == 200, "the in-flight request finished during the drain: \(response.status) \(response.body)")
        #expect(response.body == "Hello World!\n")
        #expect(try await sidecar.process.waitForExit(timeout: 15) == 0, "stderr:\n\(sidecar.process.stderr)")
        #expect(try await model.stats()["requests"] == 1)
    }
}
