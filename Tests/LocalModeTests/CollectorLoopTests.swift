import ControlHTTP
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import ThawTestSupport
import ThawVocabulary

/// A stand-in dcgm-exporter: a real HTTP server whose page the test rewrites (GPU load going up,
/// the exporter failing) while a real `thaw-collector` scrapes it.
final class FakeExporter: Sendable {
    final class Page: Sendable {
        let content = Mutex<(status: Int, text: String)>((200, ""))
    }
    let page = Page()
    let channel: any Channel

    init() async throws {
        let page = self.page
        channel = try await ControlServer.bind(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton) { _ in
            let (status, text) = page.content.withLock { $0 }
            return ControlServer.Reply(status: .init(statusCode: status), contentType: "text/plain; version=0.0.4", body: text)
        }
    }

    var url: String { "http://127.0.0.1:\(channel.localAddress!.port!)/metrics" }

    /// GPU utilization of each pod (one GPU each), as dcgm-exporter prints it in Kubernetes mode.
    func serve(_ utilization: [String: Double]) {
        var text = "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).\n# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
        for (index, (pod, value)) in utilization.sorted(by: { $0.key < $1.key }).enumerated() {
            text += "DCGM_FI_DEV_GPU_UTIL{gpu=\"\(index)\",UUID=\"GPU-\(index)\",modelName=\"NVIDIA H100\",Hostname=\"node-1\","
                + "container=\"model\",namespace=\"ml\",pod=\"\(pod)\"} \(value)\n"
        }
        text += "DCGM_FI_DEV_GPU_UTIL{gpu=\"7\",UUID=\"GPU-7\",modelName=\"NVIDIA H100\",Hostname=\"node-1\"} 0\n"
        page.content.withLock { $0 = (200, text) }
    }

    func fail(status: Int, body: String) {
        page.content.withLock { $0 = (status, body) }
    }

    deinit {
        channel.close(promise: nil)
    }
}

/// The collector in the whole loop: `thaw up` (autoscaler, activator, replicas as processes) scaling
/// a release on GPU utilization that a `thaw-collector` process scrapes from an exporter.
@Suite(.serialized)
struct CollectorLoopTests {
    /// Where a `thaw-collector run --port 0` serves `/metrics` and `/status`, from its start-up line.
    static func adminAddress(of collector: TestProcess) async throws -> EndpointAddress {
        let listening = try await collector.waitFor("thaw-collector listening")
        guard let range = listening.range(of: "127.0.0.1/127.0.0.1:"), let port = Int(listening[range.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("no address in: \(listening)")
        }
        return EndpointAddress(host: "127.0.0.1", port: port)
    }

    /// Rounds the collector has completed, from its own metrics.
    static func rounds(at admin: EndpointAddress) async throws -> Int {
        let metrics = try await HTTPCall.perform(on: ThawUp.group.any(), to: admin, path: "/metrics", timeout: .seconds(5)).body
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("thaw_collector_rounds_total ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func gpuUtilizationScalesAReleaseAndAFailingSourceFallsBack() async throws {
        let exporter = try await FakeExporter()
        exporter.serve(["gpu-v1-a": 90, "gpu-v1-b": 90])
        let up = try await ThawUp(yaml: EchoService.yaml(name: "gpu", releases: [("v1", "")], annotations: [
            "autoscaling.knative.dev/metric": "gpu", "autoscaling.knative.dev/target": "50",
            "autoscaling.knative.dev/window": "6s", "autoscaling.knative.dev/initial-scale": "1",
            "autoscaling.thaw.dev/fallback-replicas": "2", "autoscaling.thaw.dev/fallback-after-failures": "5",
        ], minReplicas: 1, maxReplicas: 6), services: ["gpu"])
        let file = up.directory.appendingPathComponent("collector.yaml")
        // 2 s rounds, so a 2 s scrape timeout: under a loaded full run a 1 s scrape could time out,
        // and the failure reason checked below would then be the timeout instead of the 500.
        try """
            interval: 2s
            exporters: [{url: "\(exporter.url)"}]
            signals:
              - target: gpu-v1
                selector: 'DCGM_FI_DEV_GPU_UTIL{namespace="ml", pod=~"gpu-v1-.*"}'
                window: 4s
            """.write(to: file, atomically: true, encoding: .utf8)
        let collector = try TestProcess("thaw-collector", ["run", file.path, "--autoscaler", "http://\(up.autoscaler)", "--port", "0"])
        let admin = try await Self.adminAddress(of: collector)

        // Two pods at 90 % against 50 % per replica: 180 / 50 asks for 4 replicas.
        try await up.waitUntil("4 replicas for 180 % of GPU", timeout: 40) { $0["gpu-v1"]?.requested == 4 }

        // The exporter breaks: the scale holds, then after 5 failed rounds the fallback (2) applies
        // (10 s of holding: long enough to be seen even when the machine answers status slowly).
        exporter.fail(status: 500, body: "dcgm: cannot open the NVML library")
        var heldCounts: [Int] = []
        let fallen = try await up.waitUntil("the fallback", timeout: 30) { status in
            guard let target = status["gpu-v1"] else { return false }
            if target.fallbackReplicas == nil { heldCounts.append(target.requested) }
            return target.fallbackReplicas == 2
        }
        #expect(!heldCounts.isEmpty && heldCounts.allSatisfy { $0 == 4 }, "held at 4 until the fallback: \(heldCounts)")
        #expect(fallen["gpu-v1"]?.requested == 2)
        #expect(fallen["gpu-v1"]?.signalFailure?.contains("answered 500: dcgm: cannot open the NVML library") == true,
                "the reason shown: \(fallen["gpu-v1"]?.signalFailure ?? "none")")
        let metrics = try await HTTPCall.perform(on: ThawUp.group.any(), to: admin, path: "/metrics", timeout: .seconds(5)).body
        #expect(metrics.contains("thaw_collector_source_up{source=\"\(exporter.url)\"} 0"))
        #expect(metrics.contains("thaw_collector_read_errors_total{source=\"\(exporter.url)\",kind=\"status\"}"))
        #expect(metrics.contains("thaw_collector_signal_failures_total{target=\"gpu-v1\",metric=\"gpu\"}"))

        // Back again: the signal is read, the failure clears and the decider takes over from the fallback.
        exporter.serve(["gpu-v1-a": 90, "gpu-v1-b": 90, "gpu-v1-c": 90])
        let back = try await up.waitUntil("the signal again: 270 / 50 asks for 6", timeout: 30) {
            $0["gpu-v1"]?.signalFailure == nil && $0["gpu-v1"]?.fallbackReplicas == nil && $0["gpu-v1"]?.requested == 6
        }
        #expect(back["gpu-v1"]?.desired == 6, "the decider's own count, not the fallback's")
        let status = try await HTTPCall.perform(on: ThawUp.group.any(), to: admin, path: "/status", timeout: .seconds(5)).body
        #expect(status.contains(#""replicas":3"#) && status.contains(#""value":270"#), "status: \(status)")

        collector.signal(SIGTERM)
        #expect(try await collector.waitForExit(timeout: 20) == 0, "stderr:\n\(collector.stderr)")
        #expect(collector.stderr.contains("no value for a signal this round"))
        #expect(collector.stderr.contains("the signal has a value again"))
    }

    @Test func aGPUTargetAtZeroStaysThereUntilARequestWakesIt() async throws {
        let exporter = try await FakeExporter()
        exporter.serve(["other-model-a": 95])
        let up = try await ThawUp(yaml: EchoService.yaml(name: "idle", releases: [("v1", "")], annotations: [
            "autoscaling.knative.dev/metric": "gpu", "autoscaling.knative.dev/target": "50",
            "autoscaling.knative.dev/window": "6s", "autoscaling.thaw.dev/scale-to-zero-grace-period": "2s",
            "autoscaling.thaw.dev/fallback-replicas": "3", "autoscaling.thaw.dev/fallback-after-failures": "1",
        ]), services: ["idle"])
        let file = up.directory.appendingPathComponent("collector.yaml")
        // 4 s rounds (and so a 4 s scrape timeout): a scrape that times out on a loaded machine is a
        // real failure, which the one-failure fallback would rightly act on; this test is about empty
        // answers. (2 s rounds still timed out once in a full run, on 2 busy cores.)
        try """
            interval: 4s
            exporters: [{url: "\(exporter.url)"}]
            signals: [{target: idle-v1, selector: 'DCGM_FI_DEV_GPU_UTIL{pod=~"idle-v1-.*"}', window: 6s}]
            """.write(to: file, atomically: true, encoding: .utf8)
        let collector = try TestProcess("thaw-collector", ["run", file.path, "--autoscaler", "http://\(up.autoscaler)", "--port", "0"])
        let admin = try await Self.adminAddress(of: collector)

        // Nothing selected and nothing ready: an idle target, not a failing source, so even a fallback
        // after one failure never starts it. Watch until the collector has sent three rounds.
        var seen: [Int] = []
        while try await Self.rounds(at: admin) < 3 {
            seen.append(try await up.status()["idle-v1"]?.requested ?? -1)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!seen.isEmpty && seen.allSatisfy { $0 == 0 }, "requested while idle: \(seen)")
        let idle = try await up.status()["idle-v1"]
        #expect(idle?.requested == 0 && idle?.fallbackReplicas == nil && idle?.signalFailure == nil, "\(String(describing: idle))")

        // A request: no GPU to measure yet, the activator's poke wakes the target and the request is answered.
        let response = try await up.request("idle", path: "/headers")
        #expect(response.status == 200, "body: \(response.body)")
        #expect(response.header("x-backend") == "v1")

        collector.signal(SIGTERM)
        #expect(try await collector.waitForExit(timeout: 20) == 0, "stderr:\n\(collector.stderr)")
    }
}
