import Foundation
import NIOHTTP1
import Testing
import ThawTestSupport

/// The sidecar's payload logger against a real HTTP sink (`payload_sink.py`): request and response
/// bodies as CloudEvents in binary mode, paired by `ce-id`, and inference unaffected when the sink
/// is down or slow.
@Suite struct PayloadLogTests {
    static let sinkScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("payload_sink.py").path

    struct Sink {
        let process: TestProcess
        let port: Int

        static func start(_ arguments: [String] = []) async throws -> Sink {
            let process = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: [sinkScript] + arguments, name: "payload-sink")
            let line = try await process.waitFor("listening on ")
            return Sink(process: process, port: Int(line.split(separator: " ").last ?? "") ?? 0)
        }

        var events: [(headers: [String: String], body: String)] {
            process.stdout.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                return (object["headers"] as? [String: String] ?? [:], object["body"] as? String ?? "")
            }
        }
    }

    /// A sidecar in front of an echo-backend, logging to `url`.
    static func sidecar(logger url: String, extra: [String] = []) async throws -> (sidecar: TestProcess, port: Int, admin: Int, backend: Backend) {
        let backend = try await Backend.start(name: "model")
        let sidecar = try TestProcess("thaw-queue", [
            "--target", "iris", "--replica", "iris-1", "--upstream", backend.address, "--readiness-path", "/ready",
            "--port", "0", "--admin-port", "0", "--logger-url", url, "--service", "iris", "--release", "v1", "--model", "sklearn-iris"] + extra,
            name: "thaw-queue")
        let line = try await sidecar.waitFor("thaw-queue listening")
        func port(_ key: String) throws -> Int {
            guard let range = line.range(of: key + "="), let token = line[range.upperBound...].split(separator: " ").first,
                  let port = Int(token.split(separator: ":").last ?? "") else { throw TestFailure("no \(key) port in \(line)") }
            return port
        }
        let (proxy, admin) = (try port("proxy"), try port("admin"))
        try await waitUntil("the sidecar sees its model server ready", timeout: 10) {
            (try? await Client.call(port: admin, path: "/readyz").status) == 200
        }
        return (sidecar, proxy, admin, backend)
    }

    static func metric(_ name: String, admin: Int) async throws -> Double {
        let text = try await Client.call(port: admin, path: "/metrics").body
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func requestAndResponseBodiesArriveAsPairedCloudEventsUnderLoad() async throws {
        let sink = try await Sink.start()
        // Held to the end: a TestProcess let go is killed.
        let (sidecar, port, admin, backend) = try await Self.sidecar(logger: "http://127.0.0.1:\(sink.port)/events")
        // 40 requests at once, each body its own length, so each response ({"bytes":N}) names its request.
        let bodies = (0..<40).map { "{\"instances\": [\(String(repeating: "1,", count: $0))0]}" }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for body in bodies {
                group.addTask {
                    try await Client.call(port: port, path: "/v2/models/iris/infer", method: .POST,
                                          headers: [("content-type", "application/json")], body: Array(body.utf8)).status
                }
            }
            for try await status in group { #expect(status == 200) }
        }
        // A chunked response is logged as its body, without the chunk framing.
        #expect(try await Client.call(port: port, path: "/chunked?n=2").status == 200)
        try await waitUntil("82 events at the sink", timeout: 20) { sink.events.count >= 82 }
        try await Task.sleep(for: .milliseconds(300))  // and no more
        let events = sink.events
        #expect(events.count == 82)
        let requests = events.filter { $0.headers["ce-type"] == "org.kubeflow.serving.inference.request" }
        let responses = Dictionary(events.filter { $0.headers["ce-type"] == "org.kubeflow.serving.inference.response" }
            .map { ($0.headers["ce-id"] ?? "", $0.body) }, uniquingKeysWith: { first, _ in first })
        #expect(requests.count == 41 && responses.count == 41)
        for request in requests where request.body.hasPrefix("{") {
            #expect(bodies.contains(request.body))
            #expect(responses[request.headers["ce-id"] ?? ""] == "{\"bytes\":\(request.body.utf8.count)}\n", "paired by ce-id: \(request.body)")
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.headers["ce-specversion"] == "1.0")
            #expect(request.headers["ce-service"] == "iris" && request.headers["ce-release"] == "v1" && request.headers["ce-model"] == "sklearn-iris")
            #expect(request.headers["ce-source"] == "thaw-queue/iris-1")
        }
        #expect(responses.values.contains("chunk 0\nchunk 1\n"), "\(responses.values.filter { $0.hasPrefix("chunk") })")
        #expect(try await Self.metric("thaw_queue_payload_log_events_total", admin: admin) == 82)
        withExtendedLifetime((sidecar, backend)) {}
    }

    @Test func aSinkThatIsDownOrSlowNeverHoldsUpInference() async throws {
        // Down: nothing listens there. Every event is retried, then dropped and counted.
        let (downSidecar, downPort, downAdmin, downBackend) = try await Self.sidecar(logger: "http://127.0.0.1:9/events")
        for index in 0..<10 {
            let response = try await Client.call(port: downPort, path: "/infer", method: .POST, body: Array("request \(index)".utf8))
            #expect(response.status == 200)
        }
        try await waitUntil("20 events dropped as sink_failed", timeout: 20) {
            try await Self.metric("thaw_queue_payload_log_dropped_total{reason=\"sink_failed\"}", admin: downAdmin) == 20
        }

        // Slow: the sink takes 10 s per event and the queue holds 4; the rest are dropped at once. A
        // request that waited for the sink would take 10 s; each must take far less, even on a
        // machine busy with the whole suite.
        let slow = try await Sink.start(["--delay", "10"])
        let (slowSidecar, slowPort, slowAdmin, slowBackend) = try await Self.sidecar(logger: "http://127.0.0.1:\(slow.port)/events", extra: ["--logger-queue-limit", "4"])
        for index in 0..<30 {
            let started = Date()
            let response = try await Client.call(port: slowPort, path: "/infer", method: .POST, body: Array("request \(index)".utf8))
            #expect(response.status == 200)
            #expect(Date().timeIntervalSince(started) < 8, "request \(index) took \(Date().timeIntervalSince(started)) s with a 10 s sink")
        }
        #expect(try await Self.metric("thaw_queue_payload_log_dropped_total{reason=\"queue_full\"}", admin: slowAdmin) >= 40)
        try await waitUntil("the slow sink to get what was queued", timeout: 30) { slow.events.count >= 4 }
        withExtendedLifetime((downSidecar, downBackend, slowSidecar, slowBackend)) {}
    }
}
