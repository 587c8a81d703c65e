import ControlHTTP
import Foundation
import PrometheusClient
import RemoteReadCodec
import SeriesSignals
import Testing
import ThawTestSupport

@Suite(.serialized)
struct PrometheusRemoteReadTests {
    @Test func bothResponseModesReturnTheSamplesTheQueryAPIReturns() async throws {
        let prometheus = try await PrometheusServer()
        let end = try await prometheus.waitForScrapes(4)
        let endMs = Int64(end * 1000), startMs = endMs - 60_000
        let client = RemoteReadClient(baseURL: prometheus.url)
        let queries = [
            ReadQuery(matchers: [LabelMatch("__name__", .equal, "up"), LabelMatch("job", .regex, "s.*")], startMilliseconds: startMs, endMilliseconds: endMs),
            ReadQuery(matchers: [LabelMatch("__name__", .equal, "prometheus_build_info"), LabelMatch("job", .notRegex, "x.*")],
                      startMilliseconds: startMs, endMilliseconds: endMs),
        ]
        let streamed = try client.read(queries, preferChunks: true)
        let plain = try client.read(queries, preferChunks: false)
        #expect(streamed.mode == .chunks)
        #expect(plain.mode == .samples)
        #expect(streamed.results == plain.results, "both response modes carry the same series and samples")
        let up = try #require(plain.results[0].first)
        #expect(up.labels["job"] == "self")
        #expect(up.points.count >= 4)
        #expect(up.points.allSatisfy { $0.value == 1 })
        #expect(plain.results[1].first?.labels["version"]?.hasPrefix("2.") == true, "a second query in the same request")

        // The HTTP API's raw samples for the same range. Both include the range's ends, but the query API
        // takes seconds with 3 decimals: compare after the start millisecond on both sides.
        let data = try prometheus.query("up[60s]", at: end)
        let values = try #require(((data["result"] as? [[String: Any]])?.first?["values"]) as? [[Any]])
        let api = values.compactMap { pair -> SeriesPoint? in
            guard let time = pair.first as? Double, let text = pair.last as? String, let value = Double(text) else { return nil }
            return SeriesPoint(Int64((time * 1000).rounded()), value)
        }
        #expect(up.points.filter { $0.timestampMilliseconds > startMs } == api.filter { $0.timestampMilliseconds > startMs })
    }

    @Test func theReadCommandPrintsEachSeriesAsAJSONLine() async throws {
        let prometheus = try await PrometheusServer()
        try await prometheus.waitForScrapes(2)
        for mode in ["chunks", "samples"] {
            let read = try TestProcess("thaw-collector", ["read", "--prometheus", prometheus.url, "--match", #"up{job="self"}"#,
                                                          "--start", "now-1m", "--mode", mode])
            #expect(try await read.waitForExit(timeout: 30) == 0, "stderr: \(read.stderr)")
            let lines = read.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let line = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect((line?["labels"] as? [String: String])?["job"] == "self")
            #expect(((line?["samples"] as? [[Double]])?.count ?? 0) >= 1)
            #expect(read.stderr.contains("1 series, \(mode) mode"))
        }
        let summary = try TestProcess("thaw-collector", ["read", "--prometheus", prometheus.url, "--match", "up", "--start", "now-1m", "--summary"])
        #expect(try await summary.waitForExit(timeout: 30) == 0)
        #expect(summary.stdout.hasPrefix("1 series, "), "stdout: \(summary.stdout)")
    }

    @Test func aQueryPrometheusRefusesIsAStatusErrorWithItsReason() async throws {
        let prometheus = try await PrometheusServer()
        let client = RemoteReadClient(baseURL: prometheus.url)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect {
            _ = try client.read([ReadQuery(matchers: [LabelMatch("__name__", .regex, "(")], startMilliseconds: now - 1000, endMilliseconds: now)])
        } throws: { error in
            guard case SourceError.status(_, let code, let body) = error else { return false }
            // Prometheus 2.42 answers a bad matcher regex with 500 and the parser's message.
            return code >= 400 && body.contains("regexp")
        }
    }

    @Test func anUnreachableServerIsATransportError() throws {
        let port = try FreePort.take(1)[0]
        let client = RemoteReadClient(baseURL: "http://127.0.0.1:\(port)", timeoutSeconds: 2)
        #expect {
            _ = try client.read([ReadQuery(matchers: [LabelMatch("__name__", .equal, "up")], startMilliseconds: 0, endMilliseconds: 1)])
        } throws: { error in
            if case SourceError.transport = error { return true }
            return false
        }
    }
}
