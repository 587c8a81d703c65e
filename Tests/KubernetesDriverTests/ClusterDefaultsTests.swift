import Foundation
import KubernetesAccess
import KubernetesClient
import KubernetesDriver
import Testing
import ThawTestSupport

/// The config-autoscaler ConfigMap as the kubelet mounts it: a file per key, behind `..data` links.
@Suite struct ClusterDefaultsTests {
    /// Lays `values` out the way the kubelet does: a timestamped directory, `..data` pointing at it,
    /// and each key a link through `..data`.
    static func mount(_ values: [String: String], at directory: URL) throws {
        let stamp = "..2026_12_04_17_00_00.\(UUID().uuidString.prefix(6))"
        let version = directory.appendingPathComponent(stamp)
        try FileManager.default.createDirectory(at: version, withIntermediateDirectories: true)
        for (key, value) in values { try value.write(to: version.appendingPathComponent(key), atomically: true, encoding: .utf8) }
        let data = directory.appendingPathComponent("..data")
        try? FileManager.default.removeItem(at: data)
        try FileManager.default.createSymbolicLink(atPath: data.path, withDestinationPath: stamp)
        for key in values.keys where (try? FileManager.default.destinationOfSymbolicLink(atPath: directory.appendingPathComponent(key).path)) == nil {
            try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent(key).path, withDestinationPath: "..data/\(key)")
        }
    }

    @Test func aMountedConfigMapReadsAsItsKeys() throws {
        let directory = try scratchDirectory("config-autoscaler")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.mount(["container-concurrency-target-default": "7\n", "enable-scale-to-zero": "true"], at: directory)
        #expect(try ClusterDefaults.read(directory: directory.path) == ["container-concurrency-target-default": "7", "enable-scale-to-zero": "true"])
        #expect(try ClusterDefaults.load(directory: directory.path).containerConcurrencyTargetDefault == 7)
    }

    @Test func anUnknownKeyOrBadValueNamesIt() throws {
        let directory = try scratchDirectory("config-autoscaler")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.mount(["container-concurency-target-default": "7", "max-scale-up-rate": "fast"], at: directory)
        #expect {
            _ = try ClusterDefaults.load(directory: directory.path)
        } throws: { error in
            let text = "\(error)"
            return text.contains("container-concurency-target-default") && text.contains("max-scale-up-rate") && text.contains(directory.path)
        }
    }

    @Test func aRunningAutoscalerAppliesAChangedConfigMap() async throws {
        let directory = try scratchDirectory("config-autoscaler")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.mount(["container-concurrency-target-default": "10", "container-concurrency-target-percentage": "100"], at: directory)
        let api = try await FakeKubernetesAPI()
        let client = KubernetesClient(access: try ClusterAccess.kubeconfig(contentsOf: api.kubeconfig))
        _ = try client.post("/apis/apps/v1/namespaces/ml/deployments", ClusterWatchTests.deployment("plain"))
        let autoscaler = try TestProcess("thaw-autoscaler", ["--kubeconfig", api.kubeconfig, "--namespace", "ml", "--port", "0",
                                                              "--config-dir", directory.path])
        let line = try await autoscaler.waitFor("thaw-autoscaler: http://")
        let url = String(line[line.range(of: "http://")!.lowerBound...])
        func target() async throws -> String { try await offPool { try CommandRun.run(["curl", "-sS", "\(url)/status"]).stdout } }
        try await waitUntil("the target at the mounted default", timeout: 20) { try await target().contains("\"targetPerReplica\" : 10") }
        try Self.mount(["container-concurrency-target-default": "4", "container-concurrency-target-percentage": "100"], at: directory)
        try await waitUntil("the new default", timeout: 20) { try await target().contains("\"targetPerReplica\" : 4") }
        #expect(autoscaler.stderr.contains("cluster defaults changed"))
    }
}
