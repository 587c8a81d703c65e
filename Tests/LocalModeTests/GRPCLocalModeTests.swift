import Foundation
import Testing
import ThawTestSupport

extension KServeAndGRPCEndToEnd {
    /// `thaw up` with a gRPC model server (grpcio, KServe-V2-shaped, `Tests/ActivatorTests/grpc/`):
    /// the annotation `serving.thaw.dev/protocol: grpc` makes its release an h2c target, checked by the
    /// gRPC health protocol, behind an h2c sidecar; a call to a release at zero waits, pokes the
    /// autoscaler and is answered by the replica it started.
    @Suite struct GRPCLocalModeTests {
        static let grpc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ActivatorTests/grpc").path

        @Test func aGRPCCallToAReleaseAtZeroStartsAReplicaAndIsAnswered() async throws {
            let python = try TestProcess.systemExecutable("python3").path
            let yaml = """
                apiVersion: tensorstack.dev/v1beta1
                kind: MLServiceRuntime
                metadata: {name: kserve-grpc}
                spec:
                  template:
                    metadata:
                      annotations:
                        serving.thaw.dev/protocol: grpc
                        autoscaling.knative.dev/initial-scale: "0"
                    spec:
                      containers:
                      - name: server
                        command: ["\(python)"]
                        args: ["\(Self.grpc)/grpc_model_server.py", "--port={{.PORT}}", "--ready-after=0.5", "--name=local"]
                ---
                apiVersion: tensorstack.dev/v1beta1
                kind: MLService
                metadata: {name: infer}
                spec:
                  default: v1
                  releases:
                  - name: v1
                    predictor: {minReplicas: 0, model: {runtime: kserve-grpc}}
                """
            let up = try await ThawUp(yaml: yaml, services: ["infer"])
            try await up.waitUntil("the release at zero", timeout: 30) { $0["infer-v1"].map { $0.ready == 0 && $0.requested == 0 } ?? false }
            let client = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: [
                "\(Self.grpc)/grpc_client.py", "unary", "127.0.0.1:\(up.servicePorts["infer"]!)", "3", "--concurrency", "3", "--timeout", "60"],
                name: "grpc-client")
            #expect(try await client.waitForExit(timeout: 90) == 0, "\(client.stderr)")
            let results = client.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(results.map { $0["code"] as? String } == ["OK", "OK", "OK"], "\(client.stdout)\n\(up.process.stderr.suffix(3000))")
            #expect(results.allSatisfy { $0["server"] as? String == "local" && ($0["values"] as? [Double]) == [2, 4, 6] })
            #expect(up.process.stderr.contains("trigger=poke"), "the waiting calls poked the autoscaler")
        }
    }
}
