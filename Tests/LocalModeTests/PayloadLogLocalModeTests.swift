import ConfigFields
import Foundation
import MLService
import Testing
import ThawTestSupport

extension KServeAndGRPCEndToEnd {
    /// The MLService `logger` under `thaw up`: each replica's sidecar sends its bodies to the sink.
    @Suite struct PayloadLogLocalModeTests {
        static let sinkScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ActivatorTests/payload_sink.py").path

        static func yaml(sink: String, mode: String = "all") -> String {
            EchoService.yaml(name: "shop", releases: [("v1", "")], minReplicas: 1)
                .replacingOccurrences(of: "    predictor:\n", with: "    predictor:\n      logger: {mode: \(mode), url: \"\(sink)\"}\n")
        }

        @Test func aLoggerIsReadAndABadOneIsRefusedAtItsLine() throws {
            let parsed = try MLServiceFile.parse(Self.yaml(sink: "http://127.0.0.1:8000/events", mode: "request"), file: "shop.yaml", baseDirectory: "/srv")
            #expect(parsed.services[0].releases[0].predictor.logger == PayloadLoggerSpec(mode: "request", url: "http://127.0.0.1:8000/events"))
            #expect(!parsed.warnings.joined().contains("logger"), "no longer an ignored field")
            let error = try #require(throws: ConfigError.self) {
                try MLServiceFile.parse(Self.yaml(sink: "http://127.0.0.1:8000/events", mode: "everything"), file: "shop.yaml", baseDirectory: "/srv")
            }
            #expect(error.description.contains("must be all, request or response, got \"everything\""), "\(error)")
            #expect(throws: ConfigError.self) { try MLServiceFile.parse(Self.yaml(sink: "ftp://sink/events"), file: "shop.yaml", baseDirectory: "/srv") }
        }

        @Test func thawUpSendsEveryRequestAndResponseToTheSinkPaired() async throws {
            let sink = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: [Self.sinkScript], name: "payload-sink")
            let port = Int(try await sink.waitFor("listening on ").split(separator: " ").last ?? "") ?? 0
            let up = try await ThawUp(yaml: Self.yaml(sink: "http://127.0.0.1:\(port)/events"), services: ["shop"])
            try await up.waitUntil("a ready replica", timeout: 30) { $0["shop-v1"]?.ready == 1 }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<30 {
                    group.addTask { try await up.request("shop", path: "/infer", method: .POST, body: Array("request \(index) \(String(repeating: "x", count: index))".utf8)).status }
                }
                for try await status in group { #expect(status == 200) }
            }
            func events() -> [[String: Any]] {
                sink.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            }
            try await waitUntil("60 events at the sink", timeout: 20) { events().count >= 60 }
            let all = events()
            #expect(all.count == 60)
            var byID: [String: [String: String]] = [:]
            for event in all {
                let headers = event["headers"] as? [String: String] ?? [:]
                #expect(headers["ce-service"] == "shop" && headers["ce-release"] == "v1" && headers["ce-component"] == "predictor", "\(headers)")
                byID[headers["ce-id"] ?? "", default: [:]][headers["ce-type"] ?? ""] = event["body"] as? String
            }
            #expect(byID.count == 30, "30 exchanges, each with its request and its response under one ce-id")
            for pair in byID.values {
                let request = try #require(pair["org.kubeflow.serving.inference.request"])
                #expect(pair["org.kubeflow.serving.inference.response"] == "{\"bytes\":\(request.utf8.count)}\n")
            }
        }

        @Test func underThawUpASinkThatIsDownNeverHoldsUpInference() async throws {
            // Nothing listens on port 9: every event fails, is retried for 0.6 s, and is dropped. The
            // requests, all at once, are answered while the first events are still being retried.
            let up = try await ThawUp(yaml: Self.yaml(sink: "http://127.0.0.1:9/events"), services: ["shop"])
            try await up.waitUntil("a ready replica", timeout: 30) { $0["shop-v1"]?.ready == 1 }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<20 {
                    group.addTask { try await up.request("shop", path: "/infer", method: .POST, body: Array("request \(index)".utf8)).status }
                }
                for try await status in group { #expect(status == 200) }
            }
        }

        @Test func underThawUpASlowSinkNeverHoldsUpInference() async throws {
            // The sink takes 10 s per event; a request that waited for it would take as long.
            let sink = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: [Self.sinkScript, "--delay", "10"], name: "payload-sink")
            let port = Int(try await sink.waitFor("listening on ").split(separator: " ").last ?? "") ?? 0
            let up = try await ThawUp(yaml: Self.yaml(sink: "http://127.0.0.1:\(port)/events"), services: ["shop"])
            try await up.waitUntil("a ready replica", timeout: 30) { $0["shop-v1"]?.ready == 1 }
            for index in 0..<15 {
                let started = Date()
                let response = try await up.request("shop", path: "/infer", method: .POST, body: Array("request \(index)".utf8))
                #expect(response.status == 200)
                #expect(Date().timeIntervalSince(started) < 8, "request \(index) took \(Date().timeIntervalSince(started)) s with a 10 s sink")
            }
            try await waitUntil("the slow sink to get events", timeout: 30) { sink.stdout.contains("ce-id") }
        }
    }
}
