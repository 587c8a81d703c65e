import ArgumentParser
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The example model: a digit classifier behind the KServe V2 inference protocol, the workload
/// `make demo` scales. It is deliberately tiny, so `--load-delay` and `--latency-ms` stand in for
/// what makes real models worth autoscaling: slow cold starts and expensive inferences.
@main
struct DigitsModelServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits-model-server",
        abstract: "Serves a digit classifier over the KServe V2 inference protocol.",
        discussion: """
            GET  /v2/health/live        200 while the process runs
            GET  /v2/health/ready       200 once the model is loaded, 503 before
            GET  /v2/models/NAME/ready  the same, for the served model
            GET  /v2/models/NAME        metadata: versions, inputs, outputs
            POST /v2/models/NAME/infer  {"inputs":[{"name":"input-0","shape":[N,64],
                                          "datatype":"FP32","data":[...]}]}
                                        answers "probabilities" [N,10], "label" [N]
            An input row is an 8x8 image, row-major, 0..16 with ink high.
            Prints "listening on PORT" once bound, "model NAME VERSION ready" once
            loaded. Errors are JSON {"error":"..."}. SIGTERM and SIGINT stop the
            server with status 0.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one. (default: $PORT, else 8080)")
    var port: Int?

    @Option(help: "The model's JSON file, e.g. examples/digits/model/digits-v2.json. (default: $MODEL_PATH)")
    var model: String?

    @Option(help: "Name to serve the model under. (default: the name in the model file)")
    var modelName: String?

    @Option(help: "Seconds spent loading before the model is ready, to make cold starts visible.")
    var loadDelay = 0.0

    @Option(help: "Milliseconds each inference takes before it is answered, standing in for a heavier model.")
    var latencyMs = 0

    func validate() throws {
        guard loadDelay >= 0 else { throw ValidationError("--load-delay must not be negative") }
        guard latencyMs >= 0 else { throw ValidationError("--latency-ms must not be negative") }
        guard model ?? ProcessInfo.processInfo.environment["MODEL_PATH"] != nil else {
            throw ValidationError("give the model file with --model or MODEL_PATH")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let port = try self.port ?? environment["PORT"].map {
            guard let port = Int($0) else { throw ValidationError("PORT is not a number: \($0)") }
            return port
        } ?? 8080
        // The file is read before binding, so a wrong path fails at once instead of after the
        // load delay; the delay then only decides when the server reports ready.
        var loaded = try DigitsModel(contentsOf: model ?? environment["MODEL_PATH"] ?? "")
        if let modelName { loaded.name = modelName }
        let served = ServedModel(model: loaded, latency: .milliseconds(Int64(latencyMs)))

        let group = MultiThreadedEventLoopGroup.singleton
        let stop = group.next().makePromise(of: Void.self)
        let signals = stopOnSignals(stop)
        // However run ends (a signal, a failed bind), stop must complete: NIO treats a promise
        // that is never fulfilled as a bug.
        defer {
            signals.forEach { $0.cancel() }
            stop.succeed()
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(V2Handler(served: served))
                }
            }
            .bind(host: host, port: port).get()
        stop.futureResult.whenSuccess { channel.close(promise: nil) }
        say("listening on \(channel.localAddress?.port ?? port)")

        group.next().scheduleTask(in: .nanoseconds(Int64(loadDelay * 1e9))) {
            served.markReady()
            let model = served.model
            let accuracy = model.testAccuracy.map { " (test accuracy \($0))" } ?? ""
            say("model \(model.name) \(model.version) ready\(accuracy)")
        }
        try await channel.closeFuture.get()
    }
}

/// Writes a line to stdout unbuffered, so tests and log collectors see it at once even when
/// stdout is a file or a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Completes `stop` on SIGTERM or SIGINT; `run` then closes the listening channel and returns,
/// so the process exits 0: an orchestrator scaling the model down is not a failure. Installed
/// before binding, so a signal sent as soon as "listening on" appears is never lost.
func stopOnSignals(_ stop: EventLoopPromise<Void>) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { stop.succeed() }
        source.resume()
        return source
    }
}

/// The model and whether it has finished loading, shared by every connection.
final class ServedModel: Sendable {
    let model: DigitsModel
    let latency: TimeAmount
    private let ready = Atomic(false)

    init(model: DigitsModel, latency: TimeAmount) {
        self.model = model
        self.latency = latency
    }

    var isReady: Bool { ready.load(ordering: .acquiring) }
    func markReady() { ready.store(true, ordering: .releasing) }
}
