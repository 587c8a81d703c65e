import ConfigFields
import Foundation
import PrometheusClient
import SeriesSignals
import Testing
import ThawTestSupport
@testable import Collector

/// The collector file: every field read, and every mistake named by its field with the fix.
@Suite struct CollectorConfigTests {
    @Test func aPrometheusFileReadsEveryField() throws {
        let config = try CollectorConfig.parse("""
            autoscaler: http://127.0.0.1:8090
            interval: 10s
            prometheus:
              url: https://prometheus.monitoring:9090/
              timeout: 3s
              basicAuth: {username: thaw, passwordFile: /etc/thaw/password}
              caFile: /etc/thaw/ca.pem
              headers: {X-Scope-OrgID: ml, X-Other: 1}
            signals:
              - target: llm-v1
                selector: 'DCGM_FI_DEV_GPU_UTIL{exported_namespace="ml", exported_pod=~"llm-v1-.*"}'
                perReplica: sum
                window: 1m
                exporterPods: [dcgm-exporter-abcde]
              - target: llm-v2
                metric: gpu
                selector: 'gpu_busy_seconds_total{pod=~"llm-v2-.*"}'
                reduce: rate
            """, file: "c.yaml")
        #expect(config.autoscaler == "http://127.0.0.1:8090")
        #expect(config.interval == .seconds(10))
        guard case .prometheus(let connection) = config.source else { throw TestFailure("expected a prometheus source") }
        #expect(connection.baseURL == "https://prometheus.monitoring:9090")
        #expect(connection.timeoutSeconds == 3)
        #expect(connection.basicAuth?.username == "thaw")
        #expect(connection.caFile == "/etc/thaw/ca.pem")
        #expect(connection.headers.map { "\($0.0)=\($0.1)" } == ["X-Other=1", "X-Scope-OrgID=ml"])
        let first = config.signals[0], second = config.signals[1]
        #expect(first.target == "llm-v1" && first.metric == "gpu" && first.reduction == .gaugeAverage)
        #expect(first.perReplica == .sum && first.window == .seconds(60) && first.exporterPods == ["dcgm-exporter-abcde"])
        #expect(first.matchers.count == 3)
        #expect(second.reduction == .counterRate && second.perReplica == .average && second.window == .seconds(30))
    }

    @Test func exportersAreASourceOfTheirOwn() throws {
        let config = try CollectorConfig.parse("""
            exporters: [{url: "http://10.0.0.7:9400/metrics"}, {url: "http://10.0.0.8:9400/metrics", bearerTokenFile: /t}]
            signals: [{target: a, selector: DCGM_FI_DEV_GPU_UTIL}]
            """, file: "c.yaml")
        guard case .exporters(let pages) = config.source else { throw TestFailure("expected exporters") }
        #expect(pages.map(\.baseURL) == ["http://10.0.0.7:9400/metrics", "http://10.0.0.8:9400/metrics"])
        #expect(pages[1].bearerTokenFile?.path == "/t")
        #expect(config.interval == CollectorConfig.defaultInterval)
        #expect(config.autoscaler == nil)
        #expect(pages.allSatisfy { $0.timeoutSeconds == 5 }, "the timeout defaults to the interval when that is under 10 s")
    }

    @Test(arguments: [
        ("signals: [{target: a, selector: x}]", "missing source"),
        ("prometheus: {url: http://p}\nexporters: [{url: http://e}]\nsignals: [{target: a, selector: x}]", "both set"),
        ("prometheus: {url: p:9090}\nsignals: [{target: a, selector: x}]", "prometheus.url"),
        ("prometheus: {url: http://p}", "missing field \"signals\""),
        ("prometheus: {url: http://p}\nsignals: [{selector: x}]", "signals[0].target"),
        ("prometheus: {url: http://p}\nsignals: [{target: a}]", "signals[0].selector"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: 'x{'}]", "signals[0].selector"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: x, metric: memory}]", "signals[0].metric"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: x, reduce: max}]", "signals[0].reduce"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: x, perReplica: max}]", "signals[0].perReplica"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: x, window: soon}]", "signals[0].window"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: x}, {target: a, selector: y}]", "two gpu signals"),
        ("prometheus: {url: http://p}\ninterval: 0s\nsignals: [{target: a, selector: x}]", "interval"),
        ("prometheus: {url: http://p, basicAuth: {username: u}}\nsignals: [{target: a, selector: x}]", "passwordFile"),
        ("prometheus: {url: http://p, basicAuth: {username: u, password: p}, bearerTokenFile: /t}\nsignals: [{target: a, selector: x}]",
         "one Authorization header"),
        ("prometheus: {url: http://p, tls: true}\nsignals: [{target: a, selector: x}]", "unknown field \"prometheus.tls\""),
        ("promethues: {url: http://p}\nsignals: [{target: a, selector: x}]", "unknown field \"promethues\""),
        ("prometheus: {url: http://p, timeout: 10s}\ninterval: 5s\nsignals: [{target: a, selector: x}]", "prometheus.timeout"),
        ("exporters: [{url: http://e}]\ninterval: 5s\nsignals: [{target: a, selector: x, reduce: rate, window: 8s}]",
         "at least twice the interval"),
        ("prometheus: {url: http://p}\nsignals: [{target: a, selector: 'x{pod=~\"[\"}'}]", "does not compile"),
    ])
    func mistakesNameTheFieldAndTheFix(text: String, expected: String) {
        #expect {
            _ = try CollectorConfig.parse(text, file: "c.yaml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "c.yaml" && error.message.contains(expected)
        }
    }
}

/// The example the README points to stays a valid collector file.
@Suite struct CollectorExampleTests {
    @Test func theExampleCollectorFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try CollectorConfig.load(contentsOf: root.appendingPathComponent("examples/collector.yaml").path)
        #expect(config.signals.map(\.target) == ["digits-v1", "digits-v2"])
        guard case .prometheus(let connection) = config.source else { throw TestFailure("expected a prometheus source") }
        #expect(connection.baseURL == "http://127.0.0.1:9090")
    }
}
