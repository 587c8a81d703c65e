import ControlHTTP
import Foundation

/// A real Prometheus (Debian's package, installed by `make test`) on a free loopback port with a
/// temporary data directory and a 100-year retention. Killed when the test ends.
///
/// By default it scrapes itself every second, for tests of live data. Tests of exact values give it
/// `backfill` instead and no scrape at all, so the database holds their samples and nothing else;
/// tests of auth and TLS give it a `--web.config.file`.
public final class PrometheusServer: @unchecked Sendable {
    public let process: TestProcess
    public let port: Int
    public let directory: URL
    public let url: String

    /// - Parameters:
    ///   - backfill: OpenMetrics text (timestamps in seconds, ending with `# EOF`) that promtool turns
    ///     into blocks in the data directory before the server starts: Prometheus loads blocks at startup.
    ///   - scrapesItself: scrape its own `/metrics` every second (the `up` series the live tests read).
    ///   - webConfig: the content of `--web.config.file` (`basic_auth_users`, `tls_server_config`).
    ///   - https: whether `webConfig` serves TLS, so `url` is https.
    ///   - scrapeConfig: a whole `prometheus.yml` instead of the self-scrape (scraping a fake exporter).
    public init(backfill: String? = nil, scrapesItself: Bool = true, webConfig: String? = nil, https: Bool = false,
         scrapeConfig: String? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = directory.appendingPathComponent("data")
        if let backfill {
            let input = directory.appendingPathComponent("backfill.om")
            try backfill.write(to: input, atomically: true, encoding: .utf8)
            let promtool = try TestProcess(url: try TestProcess.systemExecutable("promtool"), arguments: [
                "tsdb", "create-blocks-from", "openmetrics", input.path, data.path,
            ], name: "promtool")
            guard try await promtool.waitForExit(timeout: 60) == 0 else {
                throw TestFailure("promtool could not backfill \(input.path):\n\(promtool.stdout.suffix(2000))\n\(promtool.stderr.suffix(2000))")
            }
        }
        // A port picked here can be taken by another process of the run before Prometheus binds it
        // (FreePort's picks are per process): then it is picked again.
        var attempt = 0
        while true {
            attempt += 1
            let port = try FreePort.take(1)[0]
            let config = directory.appendingPathComponent("prometheus.yml")
            // No external labels: remote read would add them to every series, the query API would not.
            let scrape = scrapesItself ? """
                global: {scrape_interval: 1s, scrape_timeout: 1s}
                scrape_configs:
                  - job_name: self
                    static_configs: [{targets: ['127.0.0.1:\(port)']}]
                """ : "scrape_configs: []"
            try (scrapeConfig ?? scrape).write(to: config, atomically: true, encoding: .utf8)
            var arguments = [
                "--config.file=\(config.path)", "--storage.tsdb.path=\(data.path)", "--storage.tsdb.retention.time=100y",
                "--web.listen-address=127.0.0.1:\(port)",
            ]
            if let webConfig {
                let file = directory.appendingPathComponent("web.yml")
                try webConfig.write(to: file, atomically: true, encoding: .utf8)
                arguments.append("--web.config.file=\(file.path)")
            }
            let process = try TestProcess(url: try TestProcess.systemExecutable("prometheus"), arguments: arguments, name: "prometheus")
            do {
                try await process.waitFor("Server is ready to receive web requests", timeout: 60)
            } catch where attempt < 3 && process.stderr.contains("address already in use") {
                continue
            }
            (self.port, self.process) = (port, process)
            url = "\(https ? "https" : "http")://127.0.0.1:\(port)"
            return
        }
    }

    /// Stops the server (SIGTERM, SIGKILL after 10 s) and waits for it before removing its data.
    deinit {
        process.signal(SIGTERM)
        let end = Date().addingTimeInterval(10)
        while process.process.isRunning, Date() < end { usleep(20_000) }
        if process.process.isRunning {
            process.signal(SIGKILL)
            process.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Waits until `up` has at least `count` samples in the last minute; returns the time it checked.
    @discardableResult
    public func waitForScrapes(_ count: Int) async throws -> Double {
        for _ in 0..<120 {
            let now = Date().timeIntervalSince1970
            let data = try query("count_over_time(up[1m])", at: now)
            let text = ((data["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String
            if let text, let number = Int(text), number >= count { return now }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw TestFailure("Prometheus did not scrape itself \(count) times within a minute; log:\n\(process.stderr.suffix(2000))")
    }

    /// An instant query's `data` (the HTTP query API, for comparison).
    public func query(_ expression: String, at time: Double) throws -> [String: Any] {
        try api("query", ["query": expression, "time": String(format: "%.3f", time)])
    }

    /// A range query's `data`: one point per `step` seconds from `start` to `end`, both included.
    public func queryRange(_ expression: String, start: Double, end: Double, step: Double) throws -> [String: Any] {
        try api("query_range", [
            "query": expression, "start": String(format: "%.3f", start), "end": String(format: "%.3f", end), "step": String(step),
        ])
    }

    /// GET `/api/v1/<path>` with curl; the answer's `data`, or a failure carrying Prometheus' error.
    private func api(_ path: String, _ parameters: [String: String]) throws -> [String: Any] {
        var components = URLComponents(string: url + "/api/v1/" + path)!
        components.queryItems = parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves + alone, which a query string reads as a space.
        let address = components.url!.absoluteString.replacingOccurrences(of: "+", with: "%2B")
        let output = Pipe()
        let run = Process()
        run.executableURL = try TestProcess.systemExecutable("curl")
        run.arguments = ["-s", "--max-time", "10", address]
        run.standardOutput = output
        try run.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        run.waitUntilExit()
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("\(address) answered no JSON: \(String(decoding: data.prefix(500), as: UTF8.self))")
        }
        guard json["status"] as? String == "success", let answer = json["data"] as? [String: Any] else {
            throw TestFailure("\(address) failed: \(json["error"] ?? json)")
        }
        return answer
    }
}
