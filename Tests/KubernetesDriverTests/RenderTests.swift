import Foundation
import KubernetesAccess
import KubernetesClient
import Testing
import ThawTestSupport

/// `thaw render`: the file `thaw up` runs locally, applied to a cluster (the fake API server) with
/// the real kubectl, is picked up by the autoscaler and routed by the activator as the same services.
@Suite(.serialized)
struct RenderTests {
    static let example = ModulePaths.root.appendingPathComponent("examples/digits/mlservice.yaml").path

    static func render(_ arguments: [String]) async throws -> CommandRun {
        let thaw = try TestProcess.executable("thaw").path
        return try await offPool { try CommandRun.run([thaw, "render"] + arguments) }
    }

    @Test func theDigitsExampleRendersAppliesAndEveryTargetIsPickedUp() async throws {
        let rendered = try await Self.render([Self.example, "--namespace", "ml"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        #expect(try await Self.render([Self.example, "--namespace", "ml"]).stdout == rendered.stdout, "the same file renders the same bytes")

        let api = try await FakeKubernetesAPI()
        let applied = try await ManifestsTests.kubectl(api, ["apply", "--validate=false", "-f", "-"], input: rendered.stdout)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.split(separator: "\n").sorted() == [
            "deployment.apps/digits-transformer created", "deployment.apps/digits-v1 created", "deployment.apps/digits-v2 created",
            "service/digits created", "service/digits-predictor created"], "\(applied.stdout)")

        // The cluster defaults manifests/ installs: a file written for thaw up starts at zero.
        let defaults = try scratchDirectory("config-autoscaler")
        defer { try? FileManager.default.removeItem(at: defaults) }
        try "true".write(to: defaults.appendingPathComponent("allow-zero-initial-scale"), atomically: true, encoding: .utf8)
        let autoscaler = try TestProcess("thaw-autoscaler", ["--kubeconfig", api.kubeconfig, "--namespace", "ml", "--port", "0",
                                                              "--config-dir", defaults.path])
        let line = try await autoscaler.waitFor("thaw-autoscaler: http://")
        let url = String(line[line.range(of: "http://")!.lowerBound...])
        let activator = try TestProcess("thaw-activator", ["--kubeconfig", api.kubeconfig, "--namespace", "ml", "--port", "0", "--admin-port", "0",
                                                           "--config-dir", defaults.path, "--autoscaler-url", url])
        let listening = try await activator.waitFor("thaw-activator listening")
        guard let range = listening.range(of: "admin=[IPv4]127.0.0.1/127.0.0.1:"),
              let admin = Int(listening[range.upperBound...].prefix { $0.isNumber }) else { throw TestFailure("no admin port in: \(listening)") }
        func get(_ address: String) async throws -> String { try await offPool { try CommandRun.run(["curl", "-sS", address]).stdout } }
        do {
            try await waitUntil("every rendered workload a target", timeout: 20) {
                let status = try await get("\(url)/status")
                return ["ml/digits-v1", "ml/digits-v2", "ml/digits-transformer"].allSatisfy { status.contains("\"\($0)\"") }
            }
        } catch {
            throw TestFailure("\(error); status: \(try await get("\(url)/status"))\nautoscaler:\n\(autoscaler.stderr.suffix(3000))")
        }
        let status = try await get("\(url)/status")
        #expect(status.contains("\"targetPerReplica\" : 4"), "the runtime's target annotation came along: \(status)")
        #expect(!autoscaler.stderr.contains("not scaling"), "no rendered workload is refused: \(autoscaler.stderr)")
        try await waitUntil("the activator to know the targets", timeout: 20) {
            try await get("http://127.0.0.1:\(admin)/status").contains("\"ml/digits-transformer\"")
        }
        guard let range = listening.range(of: "proxy=[IPv4]127.0.0.1/127.0.0.1:"),
              let proxy = Int(listening[range.upperBound...].prefix { $0.isNumber }) else { throw TestFailure("no proxy port in: \(listening)") }
        /// The status code of a request by Host, within 2 s: a routed one waits for its replica (no
        /// kubelet here), an unknown host is 404 at once.
        func code(_ host: String) async throws -> String {
            try await offPool { try CommandRun.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", "-H", "Host: \(host)",
                                                    "http://127.0.0.1:\(proxy)/v2/models/digits/infer"]).stdout }
        }
        #expect(try await code("nothing.ml.svc.cluster.local") == "404")
        #expect(try await code("digits.ml.svc.cluster.local") == "000", "the service's name routes (to its transformer), and waits")
        #expect(try await code("digits-predictor.ml.svc.cluster.local") == "000", "the transformer's PREDICTOR_HOST routes (to the split)")
        try await waitUntil("the waiting requests to wake the transformer and a release", timeout: 10) {
            autoscaler.stderr.contains("target=ml/digits-transformer to=1") && autoscaler.stderr.contains("to=1 trigger=poke")
        }
        #expect(!activator.stderr.contains("no serving.thaw.dev/default-release"), "the split comes from the rendered Service")
    }

    @Test func theCheckedInClusterExampleIsWhatRenderPrints() async throws {
        let rendered = try await Self.render([Self.example, "--namespace", "ml"])
        let file = try String(contentsOf: ModulePaths.root.appendingPathComponent("examples/digits/cluster.yaml"), encoding: .utf8)
        let body = file.split(separator: "\n", omittingEmptySubsequences: false).drop { $0.hasPrefix("#") }.joined(separator: "\n")
        #expect(body == rendered.stdout, "examples/digits/cluster.yaml is stale: render it again (the command is in its first lines)")
    }

    @Test func aComponentWithoutAnImageIsRefusedSayingWhere() async throws {
        let directory = try scratchDirectory("render")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("mlservice.yaml")
        try String(contentsOfFile: Self.example, encoding: .utf8)
            .replacingOccurrences(of: "          image: thaw.dev/examples/digits-transformer   # for `thaw render`; locally the command runs as a process\n", with: "")
            .write(to: file, atomically: true, encoding: .utf8)
        let refused = try await Self.render([file.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("MLService digits, transformer: no image"), "\(refused.stderr)")
    }

    @Test func aGRPCRuntimeRendersAGRPCProbeAndAnH2CSidecar() async throws {
        let directory = try scratchDirectory("render-grpc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("mlservice.yaml")
        // The runtime's template (the first annotations in the file) says its model server speaks gRPC.
        var text = try String(contentsOfFile: Self.example, encoding: .utf8)
        let anchor = try #require(text.range(of: "\n        autoscaling.knative.dev/initial-scale: \"0\"\n"))
        text.insert(contentsOf: "        serving.thaw.dev/protocol: grpc\n", at: anchor.upperBound)
        // Without its readiness-path annotation, the health protocol's method is the check.
        text = text.replacingOccurrences(of: "\n        serving.thaw.dev/readiness-path: /v2/health/ready\n", with: "\n")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let rendered = try await Self.render([file.path, "--namespace", "ml"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let objects = try JSONSerialization.jsonObject(with: Data(rendered.stdout.utf8)) as? [String: Any]
        let items = objects?["items"] as? [[String: Any]] ?? []
        let release = try #require(items.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "digits-v1" })
        let template = (release["spec"] as? [String: Any])?["template"] as? [String: Any]
        let annotations = (template?["metadata"] as? [String: Any])?["annotations"] as? [String: String]
        #expect(annotations?["serving.thaw.dev/protocol"] == "grpc", "the activator reads it from here")
        #expect(annotations?["serving.thaw.dev/readiness-path"] == "/grpc.health.v1.Health/Check")
        let containers = (template?["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
        let model = try #require(containers.first { $0["name"] as? String == "model" })
        #expect((model["readinessProbe"] as? [String: Any])?["grpc"] != nil, "the kubelet's own gRPC probe: \(model)")
        let queue = try #require(containers.first { $0["name"] as? String == "thaw-queue" })
        let env = (queue["env"] as? [[String: Any]] ?? []).compactMap { entry in (entry["name"] as? String).map { ($0, entry["value"] as? String) } }
        #expect(env.contains { $0.0 == "THAW_PROTOCOL" && $0.1 == "h2c" })
    }

    @Test func aMirroredServiceCarriesItsMirrorOnItsServiceObject() async throws {
        let directory = try scratchDirectory("render-mirror")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("mlservice.yaml")
        var text = try String(contentsOfFile: Self.example, encoding: .utf8)
        let anchor = try #require(text.range(of: "kind: MLService\nmetadata:\n  name: digits\n"))
        text.insert(contentsOf: "  annotations:\n    serving.thaw.dev/mirror-release: v2\n    serving.thaw.dev/mirror-percent: \"10\"\n", at: anchor.upperBound)
        // And the first release logs its requests: its sidecar is told where, by environment.
        let predictor = try #require(text.range(of: "  - name: v1\n    predictor:\n"))
        text.insert(contentsOf: "      logger: {mode: request, url: \"http://sink.ml:8000/events\"}\n", at: predictor.upperBound)
        try text.write(to: file, atomically: true, encoding: .utf8)
        let rendered = try await Self.render([file.path, "--namespace", "ml"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        #expect(rendered.stdout.contains("\"serving.thaw.dev/mirror-release\" : \"v2\"") || rendered.stdout.contains("\"serving.thaw.dev/mirror-release\": \"v2\""),
                "\(rendered.stdout.prefix(3000))")
        let objects = try JSONSerialization.jsonObject(with: Data(rendered.stdout.utf8)) as? [String: Any]
        let items = objects?["items"] as? [[String: Any]] ?? []
        func sidecarEnvironment(_ deployment: String) -> [String: String] {
            let item = items.first { ($0["metadata"] as? [String: Any])?["name"] as? String == deployment }
            let containers = (((item?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            let queue = containers.first { $0["name"] as? String == "thaw-queue" }
            return Dictionary((queue?["env"] as? [[String: Any]] ?? []).compactMap { entry in
                (entry["name"] as? String).flatMap { name in (entry["value"] as? String).map { (name, $0) } }
            }, uniquingKeysWith: { first, _ in first })
        }
        let v1 = sidecarEnvironment("digits-v1")
        #expect(v1["THAW_LOGGER_URL"] == "http://sink.ml:8000/events" && v1["THAW_LOGGER_MODE"] == "request", "\(v1)")
        #expect(v1["THAW_SERVICE"] == "digits" && v1["THAW_RELEASE"] == "v1" && v1["THAW_COMPONENT"] == "predictor", "\(v1)")
        #expect(sidecarEnvironment("digits-v2")["THAW_LOGGER_URL"] == nil, "only the release that says so logs")
    }
}
