import ConfigFields
import Foundation
import MLService
import Testing
import ThawTestSupport

extension KServeAndGRPCEndToEnd {
    /// Traffic mirroring (cube-studio's Istio mirror) under `thaw up`: a share of a service's requests
    /// is copied to the mirror release, which scales on that demand; clients see only the primary.
    @Suite struct MirrorTests {
        static func yaml(directory: URL, percent: String = "50", mirror: String = "v2") -> String {
            """
            apiVersion: tensorstack.dev/v1beta1
            kind: MLServiceRuntime
            metadata: {name: echo}
            spec:
              template:
                spec:
                  containers:
                  - name: server
                    command: ["echo-backend"]
                    args: ["--port", "{{.PORT}}", "--name", "{{.NAME}}", "--record", "{{.RECORD}}"]
            ---
            apiVersion: tensorstack.dev/v1beta1
            kind: MLService
            metadata:
              name: shop
              annotations:
                serving.thaw.dev/mirror-release: \(mirror)
                serving.thaw.dev/mirror-percent: "\(percent)"
            spec:
              default: v1
              releases:
              - name: v1
                predictor:
                  minReplicas: 1
                  model: {runtime: echo, parameters: {NAME: v1, RECORD: "\(directory.path)/v1.jsonl"}}
                  template: {metadata: {annotations: {serving.thaw.dev/readiness-path: /ready}}}
              - name: v2
                predictor:
                  minReplicas: 0
                  model: {runtime: echo, parameters: {NAME: v2, RECORD: "\(directory.path)/v2.jsonl"}}
                  template:
                    metadata:
                      annotations:
                        serving.thaw.dev/readiness-path: /ready
                        autoscaling.knative.dev/initial-scale: "0"
            """
        }

        @Test func theMirrorAnnotationsAreCheckedAtTheirLines() throws {
            let directory = URL(fileURLWithPath: "/srv")
            let parsed = try MLServiceFile.parse(Self.yaml(directory: directory), file: "shop.yaml", baseDirectory: "/srv")
            #expect(parsed.services[0].mirror == "v2" && parsed.services[0].mirrorPercent == 50)
            #expect(!parsed.warnings.joined().contains("annotations"), "\(parsed.warnings)")
            for (percent, mirror, message) in [("50", "v3", "\"v3\" is not a release"), ("150", "v2", "whole number from 0 to 100"),
                                               ("50", "v1", "is the default release")] {
                let error = try #require(throws: ConfigError.self) {
                    try MLServiceFile.parse(Self.yaml(directory: directory, percent: percent, mirror: mirror), file: "shop.yaml", baseDirectory: "/srv")
                }
                #expect(error.description.contains(message), "\(error)")
                #expect(error.description.hasPrefix("shop.yaml:17: ") || error.description.hasPrefix("shop.yaml:18: "), "at the annotation's line: \(error)")
            }
        }

        @Test func halfTheRequestsAreCopiedToTheMirrorWhichScalesFromZeroWhileClientsSeeOnlyThePrimary() async throws {
            let directory = try scratchDirectory("mirror")
            defer { try? FileManager.default.removeItem(at: directory) }
            let up = try await ThawUp(yaml: Self.yaml(directory: directory), services: ["shop"])
            try await up.waitUntil("v1 ready, v2 at zero", timeout: 30) { $0["shop-v1"]?.ready == 1 && $0["shop-v2"]?.requested == 0 }
            var backends: [String: Int] = [:]
            for index in 0..<100 {
                let response = try await up.request("shop", path: "/infer", method: .POST, body: Array("request \(index)".utf8))
                #expect(response.status == 200)
                backends[response.header("x-backend") ?? "?", default: 0] += 1
            }
            #expect(backends == ["v1": 100], "clients see only the primary's answers: \(backends)")
            // The copies woke v2 (they are its demand) and reached it once it was ready.
            try await up.waitUntil("the mirror scaled up", timeout: 30) { ($0["shop-v2"]?.ready ?? 0) >= 1 }
            /// The POSTs a replica recorded (its readiness probes are GETs).
            func lines(_ name: String) -> [String] {
                ((try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? "").split(separator: "\n")
                    .map(String.init).filter { $0.contains("\"method\":\"POST\"") }
            }
            try await waitUntil("the copies to arrive", timeout: 15) { lines("v2.jsonl").count >= 45 }
            try await Task.sleep(for: .milliseconds(500))
            #expect(lines("v1.jsonl").count == 100)
            let copies = lines("v2.jsonl")
            #expect((45...55).contains(copies.count), "about half of 100: \(copies.count)")
            #expect(copies.allSatisfy { $0.contains("request ") }, "each copy carries its request's body")
        }
    }
}
