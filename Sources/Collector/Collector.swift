import ControlHTTP
import CurlHTTP
import Foundation
import Logging
import NIOCore
import NIOPosix
import PrometheusClient
import RemoteReadCodec
import ScalingPolicy
import SeriesSignals
import ServiceLifecycle
import Synchronization
import TrafficStats

/// The collector daemon: every interval it reads each target's signal from its source, turns the
/// series into one value per target, and pushes the values (or why there are none) to the
/// autoscaler, which holds the scale on a failure and applies a target's fallback after several.
///
/// Reads block (libcurl), so they run on NIO's thread pool, never on the concurrency pool. One
/// remote-read request carries every signal's query. Without an autoscaler URL each round's batch
/// is printed as a JSON line instead, to check a configuration.
public struct Collector: Service {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        /// The port of `/metrics`, `/status`, `/healthz` (0 picks a free port).
        public var port = 9102
        public init() {}
    }

    let config: CollectorConfig
    let options: Options
    let autoscaler: AutoscalerURL?
    let metrics: CollectorMetrics
    let logger: Logger
    let onBound: @Sendable (SocketAddress) -> Void
    let latest = LatestRound()

    public init(config: CollectorConfig, options: Options, autoscaler: AutoscalerURL?, metrics: CollectorMetrics = CollectorMetrics(),
                logger: Logger, onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.config = config
        self.options = options
        self.autoscaler = autoscaler
        self.metrics = metrics
        self.logger = logger
        self.onBound = onBound
    }

    /// The newest round, for `/status` and `/readyz`.
    final class LatestRound: Sendable {
        let results = Mutex<[SignalRound.Result]?>(nil)
    }

    public func run() async throws {
        let channel = try await ControlServer.bind(host: options.host, port: options.port, group: MultiThreadedEventLoopGroup.singleton) {
            [metrics, latest] request in
            Self.reply(to: request, metrics: metrics, latest: latest)
        }
        logger.info("thaw-collector listening", metadata: [
            "address": "\(channel.localAddress!)", "source": "\(config.source.name)", "signals": "\(config.signals.count)",
            "interval": "\(GoDuration.format(config.interval))", "autoscaler": "\(autoscaler?.description ?? "none: printing each round")"])
        onBound(channel.localAddress!)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.poll() }
            try? await gracefulShutdown()
            tasks.cancelAll()
        }
        try? await channel.close()
        logger.info("thaw-collector stopped")
    }

    private func poll() async {
        var history = ScrapeHistory(horizon: config.signals.map(\.window).max() ?? .seconds(30))
        var previousFailures: [String: String] = [:]
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let end = Date().timeIntervalSince1970
            let results = await round(endingAt: end, history: &history)
            // Stopping: a round cut short by shutdown is not worth sending.
            if Task.isCancelled { break }
            latest.results.withLock { $0 = results }
            for result in results {
                metrics.signal(result)
                let key = result.target + " " + result.metric
                if let failure = result.failure, previousFailures[key] != failure {
                    logger.warning("no value for a signal this round", metadata: ["target": "\(result.target)", "metric": "\(result.metric)",
                                                                                "reason": "\(failure)"])
                } else if result.failure == nil, previousFailures[key] != nil {
                    logger.notice("the signal has a value again", metadata: ["target": "\(result.target)", "metric": "\(result.metric)"])
                }
                previousFailures[key] = result.failure
            }
            await push(SignalRound.batch(results, timestamp: end, source: "thaw-collector"))
            metrics.rounds.increment()
            try? await Task.sleep(until: started + config.interval)
        }
    }

    /// Reads every signal once; the window of each ends at `end` (Unix seconds).
    func round(endingAt end: Double, history: inout ScrapeHistory) async -> [SignalRound.Result] {
        let endMilliseconds = Int64(end * 1000)
        let outcomes: [SignalRound.Outcome]
        switch config.source {
        case .prometheus(let connection):
            outcomes = await readPrometheus(connection, endMilliseconds: endMilliseconds)
        case .exporters(let connections):
            outcomes = await scrapeExporters(connections, endMilliseconds: endMilliseconds, history: &history)
        }
        return SignalRound.results(config.signals, outcomes: outcomes, endMilliseconds: endMilliseconds)
    }

    private func readPrometheus(_ connection: SourceConnection, endMilliseconds: Int64) async -> [SignalRound.Outcome] {
        let queries = config.signals.map {
            ReadQuery(matchers: $0.matchers, startMilliseconds: endMilliseconds - $0.window.milliseconds, endMilliseconds: endMilliseconds)
        }
        let answer = await read(connection, samples: { $0.joined().reduce(0) { $0 + $1.points.count } }) {
            try RemoteReadClient(connection: $0).read(queries).results
        }
        switch answer {
        case .success(let results): return results.map { .series($0) }
        case .failure(let error): return config.signals.map { _ in .failed("\(error)") }
        }
    }

    /// Scrapes every exporter into the history, all at once (one hung exporter costs one timeout, not
    /// one per exporter). One unreachable exporter fails every signal this round: its node's pods
    /// would otherwise vanish from the sums and look like less load.
    private func scrapeExporters(_ connections: [SourceConnection], endMilliseconds: Int64,
                                 history: inout ScrapeHistory) async -> [SignalRound.Outcome] {
        let answers = await withTaskGroup(of: (Int, Result<[ScrapedSample], SourceError>).self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    (index, await read(connection, samples: \.count) { try ExporterScraper(connection: $0).scrape() })
                }
            }
            var answers: [(Int, Result<[ScrapedSample], SourceError>)] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var firstError: SourceError?
        for answer in answers {
            switch answer {
            case .success(let samples): history.add(samples, at: endMilliseconds)
            case .failure(let error): firstError = firstError ?? error
            }
        }
        return config.signals.map { signal in
            if let firstError { return .failed("\(firstError)") }
            do {
                return .series(try history.select(signal.matchers))
            } catch {
                return .failed("selector \(signal.selector): \(error)")
            }
        }
    }

    /// One blocking read of `source` on NIO's thread pool (never the concurrency pool), recorded in
    /// the collector's metrics: its time, the samples it brought (`samples`), or its error's kind.
    /// Cancelling the task (a shutdown) stops the read within a second instead of waiting out its timeout.
    private func read<T: Sendable>(_ connection: SourceConnection, samples: (T) -> Int,
                                   _ work: @escaping @Sendable (SourceConnection) throws -> T) async -> Result<T, SourceError> {
        let source = connection.baseURL
        let started = ContinuousClock.now
        let answer: Result<T, SourceError>
        var stoppable = connection
        let stop = CurlStop()
        stoppable.stop = stop
        do {
            answer = .success(try await withTaskCancellationHandler { [stoppable] in
                try await NIOThreadPool.singleton.runIfActive { try work(stoppable) }
            } onCancel: {
                stop.stop()
            })
        } catch let error as SourceError {
            answer = .failure(error)
        } catch {
            answer = .failure(.transport("\(error)"))
        }
        let seconds = (ContinuousClock.now - started).secondsValue
        switch answer {
        case .success(let value): metrics.read(source: source, seconds: seconds, samples: samples(value), error: nil)
        case .failure(let error): metrics.read(source: source, seconds: seconds, samples: 0, error: error.kind)
        }
        return answer
    }

    private func push(_ batch: MetricBatch) async {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body: [UInt8]
        do {
            body = Array(try encoder.encode(batch))
        } catch {
            metrics.pushFailures.increment()
            logger.error("cannot encode the round's batch; nothing sent", metadata: ["error": "\(error)"])
            return
        }
        guard let autoscaler else {
            FileHandle.standardOutput.write(Data(body + [UInt8(ascii: "\n")]))
            return
        }
        do {
            let response = try await HTTPCall.perform(on: MultiThreadedEventLoopGroup.singleton.any(), to: autoscaler.endpoint, method: .POST,
                                                      path: autoscaler.path(StatPaths.metrics), headers: [("Content-Type", "application/json")],
                                                      body: body, timeout: .seconds(5))
            guard response.status == 200 else {
                metrics.pushFailures.increment()
                logger.error("the autoscaler refused the batch", metadata: ["status": "\(response.status)", "answer": "\(response.body)"])
                return
            }
            metrics.pushes.increment()
        } catch {
            metrics.pushFailures.increment()
            logger.warning("cannot reach the autoscaler", metadata: ["autoscaler": "\(autoscaler)", "error": "\(error)"])
        }
    }

    static func reply(to request: ControlServer.Request, metrics: CollectorMetrics, latest: LatestRound) -> ControlServer.Reply {
        switch (request.head.method, request.path) {
        case (.GET, "/metrics"):
            return ControlServer.Reply(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.registry.emitToString())
        case (.GET, "/healthz"):
            return .text("ok")
        case (.GET, "/readyz"):
            return latest.results.withLock { $0 } == nil ? .text("no round yet", status: .serviceUnavailable) : .text("ok")
        case (.GET, "/status"):
            let results = latest.results.withLock { $0 } ?? []
            let body = (try? JSONEncoder().encode(results.map(SignalStatus.init))).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
            return ControlServer.Reply(status: .ok, contentType: "application/json", body: body)
        default:
            return .text("not found: \(request.path) (try /metrics, /status, /healthz, /readyz)", status: .notFound)
        }
    }
}

/// One signal in `/status`.
struct SignalStatus: Codable {
    var target: String
    var metric: String
    var value: Double?
    var replicas: Int
    var failure: String?

    init(_ result: SignalRound.Result) {
        target = result.target
        metric = result.metric
        value = result.value
        replicas = result.replicas
        failure = result.failure
    }
}

extension CollectorConfig.Source {
    var name: String {
        switch self {
        case .prometheus(let connection): "prometheus \(connection.baseURL)"
        case .exporters(let connections): "exporters \(connections.map(\.baseURL).joined(separator: ", "))"
        }
    }
}
