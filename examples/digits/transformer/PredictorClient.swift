import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Where the transformer sends its V2 requests: KServe's `PREDICTOR_HOST`, "host:port".
struct PredictorAddress: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    /// As given (less any scheme), for the Host header and messages.
    var description: String

    init?(_ text: String) {
        var rest = Substring(text)
        for scheme in ["http://", "https://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        description = String(rest)
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex) ..< close])
            rest = rest[rest.index(after: close)...]
        } else {
            host = String(rest.prefix { $0 != ":" })
            rest = rest.drop { $0 != ":" }
        }
        if rest.isEmpty {
            port = 80
        } else if rest.first == ":", let port = Int(rest.dropFirst()), (1...65535).contains(port) {
            self.port = port
        } else {
            return nil
        }
        if host.isEmpty { return nil }
    }
}

struct PredictorResponse: Sendable {
    var status: HTTPResponseStatus
    var body: ByteBuffer
}

enum PredictorFailure: Error {
    case unreachable(String)
    case timedOut
    case closedEarly
}

/// One HTTP/1.1 POST to the predictor on a connection of its own.
///
/// A connection per request keeps the example free of pooling logic; the predictor is local to
/// the transformer (the same pod, or a service address), so connecting is cheap next to inference.
/// The whole exchange, connecting included, must finish within `timeout`.
func postToPredictor(
    _ address: PredictorAddress, path: String, json body: ByteBuffer, on eventLoop: any EventLoop, timeout: TimeAmount
) -> EventLoopFuture<PredictorResponse> {
    let promise = eventLoop.makePromise(of: PredictorResponse.self)
    let deadline = eventLoop.scheduleTask(in: timeout) { promise.fail(PredictorFailure.timedOut) }
    ClientBootstrap(group: eventLoop)
        .connectTimeout(timeout)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
            }
        }
        .connect(host: address.host, port: address.port)
        .whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(PredictorFailure.unreachable(describe(error)))
            case .success(let channel):
                // Completing the promise in any way (answer, timeout, error) ends the connection.
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                head.headers.add(name: "host", value: address.description)
                head.headers.add(name: "content-type", value: "application/json")
                head.headers.add(name: "content-length", value: String(body.readableBytes))
                head.headers.add(name: "connection", value: "close")
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }
    promise.futureResult.whenComplete { _ in deadline.cancel() }
    return promise.futureResult
}

/// Why a connection failed, in a few words ("connection refused") rather than NIO's debug dump.
private func describe(_ error: any Error) -> String {
    if let error = error as? NIOConnectionError {
        if let first = error.connectionErrors.first { return describe(first.error) }
        if let dns = error.dnsAAAAError ?? error.dnsAError { return "cannot resolve \(error.host): \(dns)" }
    }
    if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
    if case ChannelError.connectTimeout(let timeout) = error { return "no connection within \(timeout)" }
    return "\(error)"
}

/// Gathers the predictor's answer and completes the promise with it; a connection that closes or
/// fails first fails the promise (which is a no-op once it has completed).
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private static let maxBody = 16 << 20
    private let promise: EventLoopPromise<PredictorResponse>
    private var status: HTTPResponseStatus?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<PredictorResponse>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(var chunk):
            guard body.readableBytes + chunk.readableBytes <= Self.maxBody else {
                promise.fail(PredictorFailure.closedEarly)
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&chunk)
        case .end:
            if let status { promise.succeed(PredictorResponse(status: status, body: body)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(PredictorFailure.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
