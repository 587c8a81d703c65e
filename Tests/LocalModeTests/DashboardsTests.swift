import ControlHTTP
import Foundation
import Testing
import ThawTestSupport
import ThawVocabulary

/// The dashboards and alert rules of `dashboards/` (built by `dashboards/build.py`): current, valid
/// for promtool, and every query real: run against a real Prometheus scraping local mode under
/// traffic, none may error, and the panels that traffic feeds must return data.
@Suite(.serialized)
struct DashboardsTests {
    static let dashboards = ModulePaths.root.appendingPathComponent("dashboards")

    static func run(_ arguments: [String], input: String? = nil) async throws -> CommandRun {
        try await offPool { try CommandRun.run(arguments, input: input) }
    }

    @Test func theBuiltFilesAreCurrentAndTheRulesPassPromtool() async throws {
        let build = Self.dashboards.appendingPathComponent("build.py").path
        let check = try await Self.run(["python3", build, "--check"])
        #expect(check.status == 0, "\(check.stderr)")
        let rules = try await Self.run(["promtool", "check", "rules", Self.dashboards.appendingPathComponent("alerts.yaml").path])
        #expect(rules.status == 0 && rules.stdout.contains("SUCCESS: 7 rules found"), "\(rules.stdout) \(rules.stderr)")
        let tests = try await Self.run(["promtool", "test", "rules", Self.dashboards.appendingPathComponent("alerts_test.yaml").path])
        #expect(tests.status == 0 && tests.stdout.contains("SUCCESS"), "\(tests.stdout) \(tests.stderr)")
        let operatorForm = try await Self.run(["kubectl", "kustomize", ModulePaths.root.appendingPathComponent("manifests/monitoring").path])
        #expect(operatorForm.status == 0 && operatorForm.stdout.contains("kind: PrometheusRule"), "\(operatorForm.stderr)")
        let runbook = try String(contentsOf: Self.dashboards.appendingPathComponent("README.md"), encoding: .utf8)
        let alerts = try String(contentsOf: Self.dashboards.appendingPathComponent("alerts.yaml"), encoding: .utf8)
        for anchor in Set(alerts.components(separatedBy: "README.md#").dropFirst().map { String($0.prefix { $0 != "\"" }) }) {
            #expect(runbook.contains("<a id=\"\(anchor)\"></a>"), "the runbook has no entry \(anchor)")
        }
    }

    struct Query: Decodable {
        var source: String
        var expr: String
        var fed: Bool
    }

    /// The `--admin-port` of every thaw-queue sidecar `thaw up` started.
    static func sidecarAdminPorts(_ up: ThawUp) -> [Int] {
        up.childPids().compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("thaw-queue") == true, let index = arguments.firstIndex(of: "--admin-port"),
                  index + 1 < arguments.count else { return nil }
            return Int(arguments[index + 1])
        }
    }

    @Test func everyPanelAndRuleQueryRunsAgainstARealPrometheusScrapingLocalMode() async throws {
        let build = try await Self.run(["python3", Self.dashboards.appendingPathComponent("build.py").path, "--queries"])
        let queries = try build.stdout.split(separator: "\n").map { try JSONDecoder().decode(Query.self, from: Data($0.utf8)) }
        #expect(queries.count > 30)

        // Two releases at zero with a 30 % canary: traffic wakes both, through cold starts.
        let up = try await ThawUp(yaml: EchoService.yaml(name: "shop", releases: [("v1", ""), ("v2", "")], canary: "v2", canaryPercent: 30,
                                                         annotations: LocalModeTests.fastScaling),
                                  services: ["shop"])
        let directory = try scratchDirectory("dashboards")
        defer { try? FileManager.default.removeItem(at: directory) }
        let targetsFile = directory.appendingPathComponent("targets.json")
        func writeTargets() throws {
            let targets = ["\(up.activatorAdmin)", "\(up.autoscaler)"] + Self.sidecarAdminPorts(up).map { "127.0.0.1:\($0)" }
            let data = try JSONSerialization.data(withJSONObject: [["targets": targets.sorted()]])
            try data.write(to: targetsFile, options: .atomic)
        }
        try writeTargets()
        let prometheus = try await PrometheusServer(scrapeConfig: """
            global: {scrape_interval: 1s, scrape_timeout: 1s}
            scrape_configs:
              - job_name: thaw
                file_sd_configs: [{files: ['\(targetsFile.path)'], refresh_interval: 1s}]
            """)
        // Ten seconds of traffic, the sidecars that appear scraped as they come.
        let end = ContinuousClock.now + .seconds(10)
        var codes: [Int: Int] = [:]
        while ContinuousClock.now < end {
            codes[try await up.request("shop", path: "/headers", timeout: .seconds(30)).status, default: 0] += 1
            try writeTargets()
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(codes.keys.sorted() == [200], "\(codes)")
        #expect(Self.sidecarAdminPorts(up).count >= 2, "both releases woke")
        try await Task.sleep(for: .seconds(3))

        let now = Date().timeIntervalSince1970
        for query in queries {
            let results: Int
            do {
                let expression = query.expr
                results = try await offPool { (try prometheus.query(expression, at: now)["result"] as? [Any])?.count ?? 0 }
            } catch {
                Issue.record("\(query.source): \(query.expr) failed: \(error)")
                continue
            }
            if query.fed {
                #expect(results > 0, "\(query.source): \(query.expr) returned nothing after traffic")
            }
        }

        // Every component's exposition passes promtool's lint (names, units, _total counters).
        let collector = try TestProcess("thaw-collector", ["run", try Self.collectorFile(in: directory), "--port", "0"])
        let collectorLine = try await collector.waitFor("thaw-collector listening")
        let collectorAddress = collectorLine.range(of: "127.0.0.1:").map { "127.0.0.1:" + collectorLine[$0.upperBound...].prefix { $0.isNumber } } ?? ""
        try await Task.sleep(for: .seconds(2))
        for address in ["\(up.activatorAdmin)", "\(up.autoscaler)", collectorAddress] {
            let exposition = try await Self.run(["curl", "-sS", "http://\(address)/metrics"]).stdout
            #expect(!exposition.isEmpty, "\(address)")
            let lint = try await Self.run(["promtool", "check", "metrics"], input: exposition)
            #expect(lint.status == 0, "\(address): \(lint.stdout) \(lint.stderr)")
        }
        // A sidecar lives only while its replica does, and the fast scaling here takes replicas
        // away within seconds (sooner than that on a loaded machine): a request wakes one first.
        var sidecarExposition = ""
        for _ in 0..<5 where sidecarExposition.isEmpty {
            _ = try? await up.request("shop", path: "/")
            for port in Self.sidecarAdminPorts(up) where sidecarExposition.isEmpty {
                sidecarExposition = (try? await Self.run(["curl", "-sS", "http://127.0.0.1:\(port)/metrics"]).stdout) ?? ""
            }
        }
        #expect(!sidecarExposition.isEmpty, "no sidecar answered /metrics")
        let sidecarLint = try await Self.run(["promtool", "check", "metrics"], input: sidecarExposition)
        #expect(sidecarLint.status == 0, "a sidecar: \(sidecarLint.stdout) \(sidecarLint.stderr)")
    }

    /// A collector whose exporter is not there: its metrics then hold read errors too.
    static func collectorFile(in directory: URL) throws -> String {
        let file = directory.appendingPathComponent("collector.yaml")
        try """
            interval: 1s
            exporters: [{url: "http://127.0.0.1:9"}]
            signals:
              - {target: shop-v1, selector: 'DCGM_FI_DEV_GPU_UTIL', window: 5s}
            """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}
