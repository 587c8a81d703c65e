import Foundation
import LocalMode
import MLService
import Testing
import ThawTestSupport

/// Which edits of a running file apply live, without processes.
@Suite struct LiveEditTests {
    static let base = EchoService.yaml(name: "shop", releases: [("v1", ""), ("v2", "")], canary: "v2", canaryPercent: 20,
                                       annotations: ["autoscaling.knative.dev/target": "2"], maxReplicas: 3)

    static func edit(_ replacements: [(String, String)]) throws -> LiveEdit {
        var text = base
        for (old, new) in replacements {
            #expect(text.contains(old), "the fixture has \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        let running = try MLServiceFile.parse(base, file: "shop.yaml", baseDirectory: "/srv")
        let edited = try MLServiceFile.parse(text, file: "shop.yaml", baseDirectory: "/srv")
        return LiveEdit(running: running, edited: edited)
    }

    @Test func theSplitBoundsAndAnnotationsApplyLive() throws {
        let edit = try Self.edit([("canaryTrafficPercent: 20", "canaryTrafficPercent: 60"), ("maxReplicas: 3", "maxReplicas: 5"),
                                  ("autoscaling.knative.dev/target: \"2\"", "autoscaling.knative.dev/target: \"7\"")])
        #expect(edit.restartReasons.isEmpty, "\(edit.restartReasons)")
        #expect(edit.changes.contains("MLService shop: default v1, canary v2 20% → default v1, canary v2 60%"), "\(edit.changes)")
        #expect(edit.changes.contains("MLService shop, release v1 predictor: replicas 0…3 → 0…5"), "\(edit.changes)")
        #expect(edit.changes.contains("MLService shop, release v2 predictor: annotations autoscaling.knative.dev/target changed"), "\(edit.changes)")
    }

    @Test func anUnchangedFileChangesNothing() throws {
        let edit = try Self.edit([])
        #expect(edit.changes.isEmpty && edit.restartReasons.isEmpty)
    }

    @Test func whatReplicasRunWithNeedsARestart() throws {
        let command = try Self.edit([("\"--ready-after\"", "\"--ready-path\", \"/r\", \"--ready-after\"")])
        #expect(command.restartReasons.count == 2, "both releases use the runtime: \(command.restartReasons)")
        #expect(command.restartReasons.allSatisfy { $0.contains("command, arguments, environment or working directory changed") })

        let readiness = try Self.edit([("serving.thaw.dev/readiness-path: \"/ready\"", "serving.thaw.dev/readiness-path: \"/healthz\"")])
        #expect(readiness.restartReasons.contains { $0.contains("annotation serving.thaw.dev/readiness-path changed") }, "\(readiness.restartReasons)")

        let release = try Self.edit([("  canary: v2\n  canaryTrafficPercent: 20\n", ""), ("  - name: v2", "  - name: v3")])
        #expect(release.restartReasons == ["MLService shop: its releases are now v1, v3, were v1, v2"])
    }
}

/// `thaw up` follows its file (issue 14: editing `canaryTrafficPercent` 25 → 60 did nothing, silently).
@Suite(.serialized) struct FollowedFileTests {
    @Test func anEditedSplitAppliesWithoutARestartAndOtherEditsSaySo() async throws {
        let yaml = EchoService.yaml(name: "live", releases: [("v1", ""), ("v2", "")], canary: "v2", canaryPercent: 0,
                                    annotations: LocalModeTests.fastScaling, minReplicas: 1)
        let up = try await ThawUp(yaml: yaml, services: ["live"])
        try await up.waitUntil("both releases ready", timeout: 30) { ($0["live-v1"]?.ready ?? 0) >= 1 && ($0["live-v2"]?.ready ?? 0) >= 1 }
        func backends(_ count: Int) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for _ in 0..<count {
                let response = try await up.request("live", path: "/headers")
                counts[response.header("x-backend") ?? "?", default: 0] += 1
            }
            return counts
        }
        #expect(try await backends(20) == ["v1": 20])
        let file = up.directory.appendingPathComponent("services.yaml")

        try yaml.replacingOccurrences(of: "canaryTrafficPercent: 0", with: "canaryTrafficPercent: 100").write(to: file, atomically: true, encoding: .utf8)
        _ = try await up.process.waitFor("applied the edited file", timeout: 10)
        #expect(try await backends(20) == ["v2": 20], "the new split, on the same replicas")
        let run = try JSONDecoder().decode(RunFileShares.self, from: Data(contentsOf: up.directory.appendingPathComponent("run.json")))
        #expect(run.services.first?.releases.map(\.trafficPercent) == [0, 100], "thaw status shows the new split")

        // A broken edit names its line; an edit of the command needs a restart. Neither changes what runs.
        try yaml.replacingOccurrences(of: "canaryTrafficPercent: 0", with: "canaryTrafficPercent: lots").write(to: file, atomically: true, encoding: .utf8)
        let broken = try await up.process.waitFor("the edited file is not applied", timeout: 10)
        #expect(broken.contains("services.yaml:"), "\(broken)")
        #expect(broken.contains("canaryTrafficPercent"), "\(broken)")
        try yaml.replacingOccurrences(of: "\"--ready-after\"", with: "\"--ready-path\", \"/ready\", \"--ready-after\"")
            .write(to: file, atomically: true, encoding: .utf8)
        let restart = try await up.process.waitFor("restart thaw up", timeout: 10)
        #expect(restart.contains("command, arguments, environment or working directory changed"), "\(restart)")
        #expect(try await backends(10) == ["v2": 10], "what was applied last still runs")
    }

    struct RunFileShares: Decodable {
        struct Service: Decodable {
            struct Release: Decodable { var trafficPercent: Int }
            var releases: [Release]
        }
        var services: [Service]
    }
}
