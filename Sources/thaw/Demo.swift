import ArgumentParser
import AutoscalerDaemon
import ControlHTTP
import Foundation
import LocalMode
import Synchronization
import NIOPosix
import ServiceLifecycle
import ThawVocabulary

/// `thaw demo`: `thaw up` plus a scripted load, printing a timeline, then a clean exit.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an MLService file in local mode and drive traffic through it: scale from zero, a burst, back to zero.",
        discussion: """
            Three phases, printed as a timeline (replicas shown as ready/requested per target):
              1. one request to a service with no replica running: it waits while the transformer and a
                 predictor start and load their model, then succeeds;
              2. a burst of --clients concurrent clients for --burst-seconds, which scales predictors and
                 the transformer up;
              3. silence, until every target is back to zero (at most --idle-seconds).
            Requests POST the files in --images, in turn, to --path on the service's port.
            """)

    @Argument(help: "The YAML file with MLService and MLServiceRuntime documents.")
    var file = "examples/digits/mlservice.yaml"

    @Option(help: "The service to send traffic to (default: the file's first).")
    var service: String?

    @Option(help: "The request path.")
    var path = "/v2/models/digits/infer"

    @Option(help: "A directory whose files are the request bodies, sent in turn.")
    var images = "examples/digits/images"

    @Option(help: "Concurrent clients during the burst.")
    var clients = 24

    @Option(name: .customLong("burst-seconds"), help: "How long the burst lasts.")
    var burstSeconds = 30

    @Option(name: .customLong("idle-seconds"), help: "The longest to wait for everything to scale back to zero.")
    var idleSeconds = 90

    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        guard (1...500).contains(clients) else { throw ValidationError("--clients must be from 1 to 500, got \(clients)") }
        guard (1...600).contains(burstSeconds) else { throw ValidationError("--burst-seconds must be from 1 to 600, got \(burstSeconds)") }
        guard (1...1800).contains(idleSeconds) else { throw ValidationError("--idle-seconds must be from 1 to 1800, got \(idleSeconds)") }
    }

    func run() async throws {
        let bodies = try Self.loadBodies(images)
        let setup = try cluster.setUp(file: file, logToFile: true)
        let name = service ?? setup.runFile.services[0].name
        guard let target = setup.runFile.services.first(where: { $0.name == name }) else {
            throw CommandFailure("--service \(name): the file has no such service; it has \(setup.runFile.services.map(\.name).joined(separator: ", "))")
        }
        print("  log: \(setup.runFile.logDirectory)/thaw.log\n")
        let script = DemoScript(cluster: setup.cluster, service: target, path: path, bodies: bodies, clients: clients,
                                burst: .seconds(burstSeconds), idleLimit: .seconds(idleSeconds))
        var services = setup.cluster.services
        services.append(.init(service: script, successTerminationBehavior: .gracefullyShutdownGroup))
        try await runGroup(services, logger: setup.logger)
        print("\ndone: every replica stopped, nothing left running.")
    }

    static func loadBodies(_ directory: String) throws -> [[UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? []
        let bodies = names.compactMap { FileManager.default.contents(atPath: directory + "/" + $0).map(Array.init) }
        guard !bodies.isEmpty else { throw CommandFailure("--images \(directory): no files to send (run from the repository root, or pass --images)") }
        return bodies
    }
}

/// The scripted traffic and the timeline it prints.
struct DemoScript: Service {
    let cluster: InProcessCluster
    let service: LocalCluster.ServiceSummary
    let path: String
    let bodies: [[UInt8]]
    let clients: Int
    let burst: Duration
    let idleLimit: Duration

    private final class Tally: Sendable {
        struct Counts { var ok = 0, failed = 0, latencies: [Double] = [], lastError: String? }
        let second = Mutex(Counts())
        let total = Mutex(Counts())
        /// The most ready replicas seen, by target.
        let peaks = Mutex<[String: Int]>([:])
        func record(_ seconds: Double, ok: Bool, error: String?) {
            func add(_ counts: inout Counts) {
                if ok { counts.ok += 1; counts.latencies.append(seconds) } else { counts.failed += 1; counts.lastError = error ?? counts.lastError }
            }
            second.withLock { add(&$0) }
            total.withLock { add(&$0) }
        }
        func takeSecond() -> Counts { second.withLock { counts in defer { counts = Counts() }; return counts } }
    }

    func run() async throws {
        let start = ContinuousClock.now
        let endpoint = EndpointAddress(host: "127.0.0.1", port: service.port)
        let tally = Tally()
        @Sendable func line(_ phase: String) async {
            let seconds = Int((ContinuousClock.now - start).secondsValue)
            let counts = tally.takeSecond()
            let sorted = counts.latencies.sorted()
            let p50 = sorted.isEmpty ? "-" : String(format: "%.0fms", sorted[sorted.count / 2] * 1000)
            let targets = await cluster.autoscaler.loop.status()
            tally.peaks.withLock { peaks in
                for target in targets { peaks[target.name] = max(peaks[target.name] ?? 0, target.ready) }
            }
            let replicas = targets.map { "\(short($0.name)) \($0.ready)/\($0.requested)\($0.panicking ? " panic" : "")" }.joined(separator: "  ")
            let traffic = String(format: "%4d ok %3d err  p50 %6@", counts.ok, counts.failed, p50 as NSString)
            print(String(format: "%4ds  %-6@ %@ | %@", seconds, phase as NSString, traffic as NSString, replicas as NSString))
            fflush(nil)
        }
        @Sendable func send(_ index: Int) async -> (Bool, String?) {
            let began = ContinuousClock.now
            do {
                let response = try await HTTPCall.perform(on: MultiThreadedEventLoopGroup.singleton.any(), to: endpoint, method: .POST, path: path,
                                                          headers: [("content-type", "application/octet-stream")],
                                                          body: bodies[index % bodies.count], timeout: .seconds(60))
                let ok = (200..<300).contains(response.status)
                tally.record((ContinuousClock.now - began).secondsValue, ok: ok, error: ok ? nil : "\(response.status): \(response.body.prefix(120))")
                return (ok, response.body)
            } catch {
                tally.record(0, ok: false, error: "\(error)")
                return (false, "\(error)")
            }
        }

        try await Task.sleep(for: .milliseconds(500))
        print("phase 1: one request, nothing running yet (scale from zero)")
        await line("cold")
        let coldStart = ContinuousClock.now
        let (ok, body) = await send(0)
        let coldSeconds = (ContinuousClock.now - coldStart).secondsValue
        print(String(format: "       first request answered after %.2f s: %@", coldSeconds, ok ? (body ?? "") : "FAILED: \(body ?? "")"))
        await line("cold")

        print("\nphase 2: \(clients) clients for \(burst) (scale up)")
        let burstEnd = ContinuousClock.now + burst
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    var index = client
                    while ContinuousClock.now < burstEnd, !Task.isShuttingDownGracefully {
                        _ = await send(index)
                        index += clients
                    }
                }
            }
            group.addTask {
                while ContinuousClock.now < burstEnd, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .seconds(1))
                    await line("burst")
                }
            }
            await group.waitForAll()
        }

        print("\nphase 3: no traffic (scale back to zero)")
        let idleStart = ContinuousClock.now
        var zeroAfter: Double?
        while ContinuousClock.now - idleStart < idleLimit, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(2))
            await line("idle")
            let targets = await cluster.autoscaler.loop.status()
            if targets.allSatisfy({ $0.requested == 0 && $0.running == 0 }) {
                zeroAfter = (ContinuousClock.now - idleStart).secondsValue
                break
            }
        }
        let totals = tally.total.withLock { $0 }
        let sorted = totals.latencies.sorted()
        print("\nsummary")
        print(String(format: "  scale from zero: the first request took %.2f s (transformer and predictor started, model loaded)", coldSeconds))
        print("  requests: \(totals.ok) answered, \(totals.failed) failed" + (totals.lastError.map { " (last error: \($0))" } ?? ""))
        if !sorted.isEmpty {
            print(String(format: "  latency: p50 %.0f ms, p99 %.0f ms", sorted[sorted.count / 2] * 1000, sorted[min(sorted.count - 1, sorted.count * 99 / 100)] * 1000))
        }
        let pokes = await cluster.autoscaler.loop.recentPokeLatencies.map { $0.secondsValue * 1000 }
        if let slowest = pokes.max() {
            print(String(format: "  pokes: %d, each decided and handed to the driver within %.2f ms of arriving (slowest)", pokes.count, slowest))
        }
        print("  peak ready replicas: " + tally.peaks.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        print(zeroAfter.map { String(format: "  back to zero %.0f s after the traffic stopped", $0) } ?? "  not all targets were back to zero within \(idleLimit)")
        print("\nstopping: draining and stopping every replica")
        fflush(nil)
    }

    private func short(_ target: String) -> String {
        target.hasPrefix(service.name + "-") ? String(target.dropFirst(service.name.count + 1)) : target
    }
}
