import Foundation
import NIOCore
import NIOHTTP1

/// Routes one connection's requests to the V2 endpoints. The HTTP server pipeline hands it one
/// request at a time (pipelined requests wait), so a connection keeps its answers in order even
/// when an inference is delayed by `--latency-ms`.
final class V2Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Large enough for thousands of images in one request; anything bigger is a mistake.
    private static let maxBody = 16 << 20

    private let served: ServedModel
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(served: ServedModel) { self.served = served }

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
                return
            }
            let answer = route(head)
            if case .ok = answer.status, head.method == .POST, served.latency > .zero {
                context.eventLoop.assumeIsolated().scheduleTask(in: served.latency) {
                    self.send(answer, for: head, context: context)
                }
            } else {
                send(answer, for: head, context: context)
            }
        }
    }

    private func route(_ head: HTTPRequestHead) -> Answer {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let model = served.model
        switch parts {
        case ["v2", "health", "live"]:
            return Answer.allow(.GET, head) ?? .json(200, ["live": true])
        case ["v2", "health", "ready"]:
            return Answer.allow(.GET, head) ?? readiness()
        case ["v2"]:
            return Answer.allow(.GET, head) ?? .json(200, ["name": "digits-model-server", "version": "1", "extensions": [String]()])
        case _ where parts.count >= 3 && parts[0] == "v2" && parts[1] == "models":
            guard parts[2] == model.name else {
                return .error(404, "unknown model \(parts[2]); this server serves \(model.name)")
            }
            switch parts.dropFirst(3) {
            case []:
                return Answer.allow(.GET, head) ?? (served.isReady ? .json(200, metadata()) : loading())
            case ["ready"]:
                return Answer.allow(.GET, head) ?? readiness()
            case ["infer"]:
                return Answer.allow(.POST, head) ?? (served.isReady ? infer() : loading())
            default:
                return .error(404, "no such path: \(path)")
            }
        default:
            return .error(404, "no such path: \(path)")
        }
    }

    private func readiness() -> Answer {
        served.isReady ? .json(200, ["name": served.model.name, "ready": true]) : loading()
    }

    private func loading() -> Answer { .error(503, "model \(served.model.name) is loading") }

    private func metadata() -> [String: Any] {
        let model = served.model
        return [
            "name": model.name,
            "versions": [model.version],
            "platform": "thaw-example",
            "inputs": [["name": "input-0", "datatype": "FP32", "shape": [-1, model.features]]],
            "outputs": [
                ["name": "probabilities", "datatype": "FP32", "shape": [-1, model.classes.count]],
                ["name": "label", "datatype": "INT64", "shape": [-1]],
            ],
        ]
    }

    private func infer() -> Answer {
        let model = served.model
        let request: InferenceRequest
        do {
            request = try InferenceRequest(json: Data(body.readableBytesView), features: model.features)
        } catch {
            return .error(error.status, error.message)
        }
        var probabilities: [Float] = []
        var labels: [Int] = []
        for row in 0..<request.rows {
            let p = model.probabilities(request.data[row * model.features ..< (row + 1) * model.features])
            probabilities += p.map { Float($0) }
            labels.append(model.classes[p.indices.max { p[$0] < p[$1] } ?? 0])
        }
        var response: [String: Any] = [
            "model_name": model.name,
            "model_version": model.version,
            "outputs": [
                ["name": "probabilities", "datatype": "FP32", "shape": [request.rows, model.classes.count], "data": probabilities],
                ["name": "label", "datatype": "INT64", "shape": [request.rows], "data": labels],
            ],
        ]
        if let id = request.id { response["id"] = id }
        return .json(200, response)
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

/// A status and JSON body, built before it is sent so that inference latency can be added after.
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
