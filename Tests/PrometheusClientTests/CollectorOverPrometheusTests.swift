import Foundation
import Testing
import ThawTestSupport

/// `thaw-collector run` reading a real Prometheus that scrapes a stand-in dcgm-exporter the way the
/// Helm chart sets it up (`honor_labels: false`, so the model's pod arrives as `exported_pod`).
@Suite(.serialized)
struct CollectorOverPrometheusTests {
    static let page = """
        # HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
        # TYPE DCGM_FI_DEV_GPU_UTIL gauge
        DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-0",Hostname="node-1",container="model",namespace="ml",pod="llm-v1-a"} 80
        DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-1",Hostname="node-1",container="model",namespace="ml",pod="llm-v1-a"} 40
        DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-2",Hostname="node-1",container="model",namespace="ml",pod="llm-v1-b"} 70
        DCGM_FI_DEV_GPU_UTIL{gpu="3",UUID="GPU-3",Hostname="node-1",container="model",namespace="ml",pod="llm-v2-a"} 10
        DCGM_FI_DEV_GPU_UTIL{gpu="4",UUID="GPU-4",Hostname="node-1",container="model",namespace="ml",pod="llm-v2-a"} 15
        DCGM_FI_DEV_GPU_UTIL{gpu="5",UUID="GPU-5",Hostname="node-1"} 0

        """

    /// The newest printed round that `accept` takes, within `timeout` seconds.
    static func round(of collector: TestProcess, timeout: Double, _ accept: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let last = collector.stdout.split(separator: "\n").last,
               let json = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], accept(json) {
                return json
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw TestFailure("no such round within \(timeout) s; stdout:\n\(collector.stdout.suffix(2000))\nstderr:\n\(collector.stderr.suffix(2000))")
    }

    @Test func eachTargetGetsTheSumOverItsPodsAndEmptySelectionsOrADownServerAreFailures() async throws {
        let exporter = try FakeSource { request in
            request.path == "/metrics" ? .text(Self.page) : .text("not found", status: 404)
        }
        let prometheus = try await PrometheusServer(scrapeConfig: """
            global: {scrape_interval: 1s, scrape_timeout: 1s}
            scrape_configs:
              - job_name: dcgm
                honor_labels: false
                static_configs:
                  - targets: ['127.0.0.1:\(exporter.port)']
                    labels: {namespace: gpu-operator, pod: nvidia-dcgm-exporter-abcde}
            """)
        let directory = try scratchDirectory("collector")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("collector.yaml")
        try """
            interval: 1s
            prometheus: {url: "\(prometheus.url)"}
            signals:
              - {target: llm-v1, selector: 'DCGM_FI_DEV_GPU_UTIL{exported_namespace="ml", exported_pod=~"llm-v1-.*"}', window: 5s}
              - {target: llm-v2, selector: 'DCGM_FI_DEV_GPU_UTIL{exported_pod=~"llm-v2-.*"}', window: 5s, perReplica: sum}
              - {target: llm-v3, selector: 'DCGM_FI_DEV_GPU_UTIL{exported_pod=~"llm-v3-.*"}', window: 5s}
            """.write(to: file, atomically: true, encoding: .utf8)
        let collector = try TestProcess("thaw-collector", ["run", file.path, "--port", "0"])

        // Without an autoscaler each round is printed; wait for a round after the first scrapes.
        let round = try await Self.round(of: collector, timeout: 30) { ($0["values"] as? [[String: Any]])?.count == 2 }
        let values = try #require(round["values"] as? [[String: Any]])
        let byTarget = Dictionary(uniqueKeysWithValues: values.map { ($0["target"] as? String ?? "", $0["value"] as? Double ?? -1) })
        // llm-v1: pod a averages its GPUs (80, 40) to 60, pod b is 70; llm-v2 sums its pod's GPUs: 25.
        #expect(byTarget == ["llm-v1": 130, "llm-v2": 25])
        let failures = try #require(round["failures"] as? [[String: Any]])
        #expect(failures.count == 1)
        #expect(failures.first?["target"] as? String == "llm-v3")
        #expect((failures.first?["reason"] as? String)?.contains("no series selected") == true)

        // Prometheus goes away: every signal is a failure saying so, none a value.
        prometheus.process.signal(SIGTERM)
        #expect(try await prometheus.process.waitForExit(timeout: 20) != nil, "Prometheus stops on SIGTERM")
        let down = try await Self.round(of: collector, timeout: 30) { round in
            let reasons = (round["failures"] as? [[String: Any]])?.compactMap { $0["reason"] as? String } ?? []
            return reasons.count == 3 && reasons.allSatisfy { $0.contains("cannot reach \(prometheus.url)/api/v1/read") }
        }
        #expect((down["values"] as? [[String: Any]])?.isEmpty == true, "no value while the server is down")

        collector.signal(SIGTERM)
        #expect(try await collector.waitForExit(timeout: 20) == 0, "stderr:\n\(collector.stderr)")
    }
}
