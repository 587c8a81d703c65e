import ArgumentParser
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The example's KServe-style transformer: it turns images into the tensor the digits model takes,
/// asks the predictor, and turns the probabilities into predictions. Clients send pictures; only
/// the transformer knows the model's input layout.
@main
struct DigitsTransformer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits-transformer",
        abstract: "Turns digit images into KServe V2 requests for the digits model server.",
        discussion: """
            GET  /v2/health/live, /v2/health/ready, /v2/models/NAME/ready   200
            POST /v2/models/NAME/infer  a PGM image (P5 or P2, 8-bit, any size) as the
                                        body, or {"instances":[{"image_b64":"..."}]}
                                        answers {"predictions":[{"label":3,
                                          "probability":0.97}],"model_version":"v1"}
            Images are dark ink on a light background. They are area-averaged to 8x8,
            inverted and scaled to 0..16, and sent to the predictor as
            POST http://PREDICTOR_HOST/v2/models/NAME/infer. Predictor errors pass
            through with their status; an unreachable predictor answers 502, a slow
            one 504. Prints "listening on PORT"; SIGTERM and SIGINT exit with status 0.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one. (default: $PORT, else 8080)")
    var port: Int?

    @Option(help: "The predictor's host:port. (default: $PREDICTOR_HOST)")
    var predictorHost: String?

    @Option(help: "The model's name, in this server's paths and the predictor's.")
    var modelName = "digits"

    @Option(help: "Seconds a predictor request may take, connecting included.")
    var predictorTimeout = 30.0

    func validate() throws {
        guard let text = predictorHost ?? ProcessInfo.processInfo.environment["PREDICTOR_HOST"] else {
            throw ValidationError("give the predictor's address with --predictor-host or PREDICTOR_HOST")
        }
        guard PredictorAddress(text) != nil else {
            throw ValidationError("the predictor's address must be host:port, got \"\(text)\"")
        }
        guard predictorTimeout > 0 else { throw ValidationError("--predictor-timeout must be positive") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let port = try self.port ?? environment["PORT"].map {
            guard let port = Int($0) else { throw ValidationError("PORT is not a number: \($0)") }
            return port
        } ?? 8080
        guard let predictor = PredictorAddress(predictorHost ?? environment["PREDICTOR_HOST"] ?? "") else {
            throw ValidationError("the predictor's address must be host:port")
        }
        let settings = TransformerSettings(
            modelName: modelName, predictor: predictor, timeout: .nanoseconds(Int64(predictorTimeout * 1e9))
        )
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
                    try channel.pipeline.syncOperations.addHandler(TransformerHandler(settings: settings))
                }
            }
            .bind(host: host, port: port).get()
        stop.futureResult.whenSuccess { channel.close(promise: nil) }
        say("listening on \(channel.localAddress?.port ?? port)")
        try await channel.closeFuture.get()
    }
}

/// Writes a line to stdout unbuffered, so tests and log collectors see it at once even when
/// stdout is a file or a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Completes `stop` on SIGTERM or SIGINT; `run` then closes the listening channel and returns,
/// so the process exits 0: an orchestrator scaling the transformer down is not a failure. Installed
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

struct TransformerSettings: Sendable {
    var modelName: String
    var predictor: PredictorAddress
    var timeout: TimeAmount
}

/// Serves one connection. The HTTP server pipeline hands it one request at a time, so the
/// predictor's answer to one request is written before the next request is read.
final class TransformerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let maxBody = 16 << 20
    private let settings: TransformerSettings
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(settings: TransformerSettings) { self.settings = settings }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes > Self.maxBody { tooLarge = true }
            if !tooLarge { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                send(.error(413, "the body is larger than \(Self.maxBody) bytes"), for: head, context: context)
            } else {
                respond(to: head, context: context)
            }
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/").map(String.init)
        let name = settings.modelName
        switch parts {
        case ["v2", "health", "live"], ["v2", "health", "ready"], ["v2", "models", name, "ready"]:
            send(Answer.allow(.GET, head) ?? .json(200, ["ready": true]), for: head, context: context)
        case ["v2", "models", name, "infer"]:
            if let refusal = Answer.allow(.POST, head) {
                send(refusal, for: head, context: context)
                return
            }
            let images: [GreyImage]
            do {
                images = try decodeImages(contentType: head.headers.first(name: "content-type"))
            } catch {
                send(.error(400, error.message), for: head, context: context)
                return
            }
            infer(images, for: head, context: context)
        case _ where parts.count >= 3 && parts[0] == "v2" && parts[1] == "models" && parts[2] != name:
            send(.error(404, "unknown model \(parts[2]); this transformer serves \(name)"), for: head, context: context)
        default:
            send(.error(404, "no such path: \(path)"), for: head, context: context)
        }
    }

    /// The request's images: a JSON body of base64 instances, or the body itself as one PGM.
    /// A body starting with "{" counts as JSON whatever its Content-Type, since `curl --data`
    /// labels everything as a form.
    private func decodeImages(contentType: String?) throws(ImageError) -> [GreyImage] {
        let bytes = Array(body.readableBytesView)
        let json = contentType?.lowercased().contains("json") == true
            || bytes.first(where: { !jsonWhitespace.contains($0) }) == UInt8(ascii: "{")
        guard json else { return [try GreyImage(pgm: bytes)] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let instances = object["instances"] as? [Any]
        else {
            throw ImageError(#"expected a PGM image or JSON {"instances":[{"image_b64":"..."}]}"#)
        }
        guard !instances.isEmpty else { throw ImageError("\"instances\" is empty") }
        return try instances.enumerated().map { (index, instance) throws(ImageError) in
            guard let encoded = (instance as? [String: Any])?["image_b64"] as? String else {
                throw ImageError("instance \(index): expected an object with \"image_b64\"")
            }
            guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                throw ImageError("instance \(index): image_b64 is not valid base64")
            }
            do throws(ImageError) {
                return try GreyImage(pgm: Array(data))
            } catch {
                throw ImageError("instance \(index): \(error.message)")
            }
        }
    }

    private func infer(_ images: [GreyImage], for head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request: [String: Any] = [
            "inputs": [[
                "name": "input-0",
                "datatype": "FP32",
                "shape": [images.count, GreyImage.side * GreyImage.side],
                "data": images.flatMap { $0.modelInput().map { Float($0) } },
            ]],
        ]
        let requestBody = ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: request)) ?? Data())
        let predictor = settings.predictor
        postToPredictor(
            predictor, path: "/v2/models/\(settings.modelName)/infer", json: requestBody,
            on: context.eventLoop, timeout: settings.timeout
        )
        .assumeIsolated()
        .whenComplete { result in
            let answer: Answer
            switch result {
            case .success(let response):
                answer = Self.predictions(from: response, count: images.count)
            case .failure(PredictorFailure.unreachable(let reason)):
                answer = .error(502, "predictor at \(predictor) is unreachable: \(reason)")
            case .failure(PredictorFailure.timedOut):
                answer = .error(504, "predictor at \(predictor) did not answer within \(self.settings.timeout)")
            case .failure(let error):
                answer = .error(502, "predictor at \(predictor) failed: \(error)")
            }
            self.send(answer, for: head, context: context)
        }
    }

    /// The client's answer from the predictor's: one prediction per image, or the predictor's
    /// error passed through with its status.
    private static func predictions(from response: PredictorResponse, count: Int) -> Answer {
        let text = String(buffer: response.body).trimmingCharacters(in: .whitespacesAndNewlines)
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        guard response.status == .ok else {
            let reason = object?["error"] as? String ?? text
            let status = Int(response.status.code)
            return .error((400...599).contains(status) ? status : 502, "predictor answered \(status): \(reason)")
        }
        let outputs = object?["outputs"] as? [[String: Any]] ?? []
        func output(_ name: String) -> [Double]? {
            outputs.first { $0["name"] as? String == name }?["data"] as? [Double]
        }
        guard let labels = output("label"), let probabilities = output("probabilities"),
              labels.count == count, count > 0, probabilities.count % count == 0
        else {
            return .error(502, "predictor answered 200 without \(count) labels and probabilities: \(text.prefix(200))")
        }
        let classes = probabilities.count / count
        let predictions: [[String: Any]] = (0..<count).map { row in
            let probability = probabilities[row * classes ..< (row + 1) * classes].max() ?? 0
            return ["label": Int(labels[row]), "probability": Float(probability)]
        }
        var answer: [String: Any] = ["predictions": predictions]
        if let version = object?["model_version"] as? String { answer["model_version"] = version }
        return .json(200, answer)
    }

    private func send(_ answer: Answer, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        var response = HTTPResponseHead(version: head.version, status: answer.status)
        response.headers.add(name: "content-type", value: "application/json")
        response.headers.add(name: "content-length", value: String(answer.body.readableBytes))
        for (name, value) in answer.headers { response.headers.add(name: name, value: value) }
        if !head.isKeepAlive { response.headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}

private let jsonWhitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]

/// A status and JSON body.
struct Answer {
    var status: HTTPResponseStatus
    var body: ByteBuffer
    var headers: [(String, String)] = []

    static func json(_ status: Int, _ object: [String: Any]) -> Answer {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Answer(status: HTTPResponseStatus(statusCode: status), body: ByteBuffer(bytes: data + Data("\n".utf8)))
    }

    static func error(_ status: Int, _ message: String) -> Answer { json(status, ["error": message]) }

    /// 405 naming the allowed method when `head` uses another one, nil when it is allowed.
    static func allow(_ method: HTTPMethod, _ head: HTTPRequestHead) -> Answer? {
        guard head.method != method else { return nil }
        var answer = error(405, "\(head.method.rawValue) is not allowed here; use \(method.rawValue)")
        answer.headers = [("allow", method.rawValue)]
        return answer
    }
}
