import ArgumentParser
import Foundation
import PrometheusClient
import RemoteReadCodec
import SeriesSignals

/// `thaw-collector read`: what the autoscaler would see, one JSON line per series.
struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read series through Prometheus' remote-read API and print each as a JSON line.",
        discussion: """
            Prints {"labels":{...},"samples":[[unix_ms, value], ...]} per series. Times are Unix seconds, \
            `now`, or `now-DURATION` (e.g. now-5m; units s, m, h).
            """)

    @Option(help: "Prometheus' base URL, e.g. http://127.0.0.1:9090.")
    var prometheus: String

    @Option(help: "A series selector, e.g. 'DCGM_FI_DEV_GPU_UTIL{exported_pod!=\"\"}'.")
    var match: String

    @Option(help: "Start of the range.")
    var start = "now-5m"

    @Option(help: "End of the range.")
    var end = "now"

    @Option(help: "chunks (streamed XOR chunks, falling back to samples) or samples.")
    var mode = "chunks"

    @Option(name: .customLong("timeout-seconds"), help: "Longest the read may take.")
    var timeoutSeconds = 30.0

    @Flag(help: "Print only the number of series and samples (for benchmarks and quick checks).")
    var summary = false

    @OptionGroup(title: "Connection")
    var connection: ConnectionOptions

    func validate() throws {
        guard ["chunks", "samples"].contains(mode) else { throw ValidationError("--mode must be chunks or samples, got \"\(mode)\"") }
        guard prometheus.hasPrefix("http://") || prometheus.hasPrefix("https://") else {
            throw ValidationError("--prometheus must be an http:// or https:// URL, got \"\(prometheus)\"")
        }
        _ = try Self.time(start, flag: "--start")
        _ = try Self.time(end, flag: "--end")
        do { _ = try SeriesSelector.parse(match) } catch { throw ValidationError("--match: \(error)") }
    }

    func run() throws {
        let query = ReadQuery(matchers: try SeriesSelector.parse(match),
                              startMilliseconds: Int64(try Self.time(start, flag: "--start") * 1000),
                              endMilliseconds: Int64(try Self.time(end, flag: "--end") * 1000))
        let client = RemoteReadClient(connection: connection.connection(url: prometheus, timeoutSeconds: timeoutSeconds))
        let answer: (mode: RemoteReadClient.Mode, results: [[Series]])
        do {
            answer = try client.read([query], preferChunks: mode == "chunks")
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if summary {
            let series = answer.results.first ?? []
            print("\(series.count) series, \(series.reduce(0) { $0 + $1.points.count }) samples")
            return
        }
        for series in answer.results.first ?? [] {
            let line: [String: Any] = ["labels": series.labels, "samples": series.points.map { [$0.timestampMilliseconds, $0.value] as [Any] }]
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        FileHandle.standardError.write(Data("\(answer.results.first?.count ?? 0) series, \(answer.mode.rawValue) mode\n".utf8))
    }

    static func time(_ text: String, flag: String) throws -> Double {
        let now = Date().timeIntervalSince1970
        if text == "now" { return now }
        if text.hasPrefix("now-"), let unit = text.last, let amount = Double(text.dropFirst(4).dropLast()) {
            let scale: Double? = switch unit { case "s": 1; case "m": 60; case "h": 3600; default: nil }
            if let scale { return now - amount * scale }
        }
        if let seconds = Double(text) { return seconds }
        throw ValidationError("\(flag) must be Unix seconds, now, or now-DURATION like now-5m; got \"\(text)\"")
    }
}
