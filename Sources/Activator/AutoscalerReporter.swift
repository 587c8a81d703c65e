import ActivatorCore
import ControlHTTP
import Foundation
import Logging
import NIOCore
import TrafficStats

/// Sends pokes the moment they happen and each target's stats every second to the autoscaler.
///
/// The activator must keep serving when the autoscaler is away: a failed batch is kept (up to a
/// bound) and sent again with the next one, and nothing here ever blocks a request.
final class AutoscalerReporter: PokeSink, Sendable {
    static let maxBacklog = 600

    let url: AutoscalerURL?
    private let eventLoopGroup: any EventLoopGroup
    private let metrics: ActivatorMetrics
    private let logger: Logger
    private let pokeStream: AsyncStream<Poke>
    private let pokeContinuation: AsyncStream<Poke>.Continuation

    /// Who the reports say measured them, and whether idle seconds are reported too.
    private let source: String
    private let reportIdle: Bool

    /// - Parameter instance: which activator replica this is, when several run (their queues add up).
    init(url: AutoscalerURL?, role: ProxyRole, instance: String?, eventLoopGroup: any EventLoopGroup, metrics: ActivatorMetrics, logger: Logger) {
        self.url = url
        // A sidecar reports idle seconds too: they tell "no traffic" from "no data".
        (source, reportIdle) = (role.statSource(instance: instance), role.isSidecar)
        self.eventLoopGroup = eventLoopGroup
        self.metrics = metrics
        self.logger = logger
        (pokeStream, pokeContinuation) = AsyncStream.makeStream(of: Poke.self, bufferingPolicy: .bufferingNewest(1000))
    }

    func poke(target: String, queueLength: Int) {
        pokeContinuation.yield(Poke(target: target, source: source, queueLength: queueLength))
    }

    func run(targets: @escaping @Sendable () -> [TargetRuntime]) async throws {
        if url == nil {
            logger.notice("no --autoscaler-url: pokes and stats are measured but not sent anywhere")
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await self.reportEverySecond(targets: targets)
            }
            for await poke in pokeStream {
                group.addTask { await self.send(poke) }
            }
        }
    }

    func finish() { pokeContinuation.finish() }

    private func send(_ poke: Poke) async {
        guard let url else { return }
        let body = Array((try? JSONEncoder().encode(poke)) ?? Data())
        for attempt in 1...3 {
            do {
                let response = try await post(body, to: url.path(StatPaths.poke), url: url)
                if (200..<300).contains(response.status) { return }
                logger.warning("autoscaler refused a poke", metadata: ["target": "\(poke.target)", "status": "\(response.status)", "body": "\(response.body)"])
                return
            } catch {
                if attempt == 3 {
                    logger.warning("cannot poke the autoscaler; the next stat report carries the queue length", metadata: ["target": "\(poke.target)", "error": "\(error)"])
                } else {
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    private func reportEverySecond(targets: @Sendable () -> [TargetRuntime]) async throws {
        var backlog: [StatReport] = []
        var failing = false
        while true {
            try await Task.sleep(for: .seconds(1))
            let now = Date().timeIntervalSince1970
            let reports = targets().compactMap { $0.report(wallClock: now, source: source, whenIdle: reportIdle) }
            guard let url else { continue }
            backlog.append(contentsOf: reports)
            if backlog.count > Self.maxBacklog { backlog.removeFirst(backlog.count - Self.maxBacklog) }
            guard !backlog.isEmpty else { continue }
            do {
                let body = Array(try JSONEncoder().encode(StatBatch(stats: backlog)))
                let response = try await post(body, to: url.path(StatPaths.stats), url: url)
                if (400..<500).contains(response.status) {
                    // The autoscaler read the batch and refused part of it (an unknown target): the rest
                    // was recorded, so sending it again would count it twice.
                    logger.warning("the autoscaler refused part of a stat batch; not resending it", metadata: [
                        "status": "\(response.status)", "body": "\(response.body)"])
                    backlog.removeAll()
                    metrics.statReports.failed.increment()
                    continue
                }
                guard (200..<300).contains(response.status) else {
                    throw ReportFailure(status: response.status, body: response.body)
                }
                backlog.removeAll()
                metrics.statReports.ok.increment()
                if failing { logger.notice("stat reports reach the autoscaler again") }
                failing = false
            } catch {
                metrics.statReports.failed.increment()
                if !failing {
                    logger.warning("cannot send stats to the autoscaler; keeping them and retrying every second", metadata: ["url": "\(url)", "error": "\(error)"])
                }
                failing = true
            }
        }
    }

    private func post(_ body: [UInt8], to path: String, url: AutoscalerURL) async throws -> HTTPCall.Response {
        try await HTTPCall.perform(on: eventLoopGroup.any(), to: url.endpoint, method: .POST, path: path,
                                   headers: [("content-type", "application/json")], body: body, timeout: .seconds(2))
    }

    struct ReportFailure: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "the autoscaler answered \(status): \(body)" }
    }
}
