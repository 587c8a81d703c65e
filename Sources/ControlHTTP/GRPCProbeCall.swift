import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ThawVocabulary

/// One gRPC unary call over HTTP/2 with prior knowledge, on its own connection: the readiness check
/// of a model server that speaks gRPC (`grpc.health.v1.Health/Check`, KServe's `ServerReady`).
///
/// The request is an empty message, which both of those take (Health's `service: ""` asks about
/// the server as a whole). Like `HTTPCall`, a control message: a fresh connection each time and one
/// deadline for the whole call.
public enum GRPCProbeCall {
    public struct Response: Sendable, Equatable {
        /// The `:status` of the response headers.
        public var httpStatus: Int
        /// `grpc-status` from the trailers (or a trailers-only response); nil when none came.
        public var grpcStatus: Int?
        public var grpcMessage: String
        /// The first response message, without its 5-byte prefix (at most 64 KiB kept).
        public var message: [UInt8]

        /// Ready when the call succeeded and the answer's field 1 is the varint 1: Health's
        /// `status: SERVING` and KServe's `ready: true` are both encoded so (`08 01`).
        public var isReady: Bool {
            grpcStatus == 0 && Self.firstField(message) == 1
        }

        /// What the answer said, for a log line.
        public var summary: String {
            guard let grpcStatus else { return "HTTP \(httpStatus) without a grpc-status" }
            if grpcStatus != 0 { return "grpc-status \(grpcStatus)\(grpcMessage.isEmpty ? "" : ": \(grpcMessage)")" }
            return "grpc-status 0, field 1 = \(Self.firstField(message).map(String.init) ?? "absent")"
        }

        /// The value of field 1 when it is a varint, else nil.
        static func firstField(_ message: [UInt8]) -> UInt64? {
            guard message.first == 0x08 else { return nil }
            var value: UInt64 = 0
            var shift: UInt64 = 0
            for byte in message.dropFirst().prefix(10) {
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
    }

    public static func perform(on eventLoop: any EventLoop, to endpoint: EndpointAddress, path: String,
                               headers: [(String, String)] = [], timeout: TimeAmount) async throws -> Response {
        let what = "gRPC \(path) on \(endpoint)"
        let promise = eventLoop.makePromise(of: Response.self)
        var head: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, ":authority": endpoint.description,
                                  "content-type": "application/grpc", "te": "trailers", "user-agent": "thaw"]
        for (name, value) in headers { head.add(name: name.lowercased(), value: value) }
        let request = head
        return try await OneShotConnection.call(on: eventLoop, to: endpoint, timeout: timeout, promise: promise,
                                                timedOut: HTTPCall.Failure.timedOut(what)) { channel in
            channel.eventLoop.execute {
                do {
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()) { stream in
                        stream.close(promise: nil)  // nothing here takes a pushed stream
                        return stream.eventLoop.makeSucceededVoidFuture()
                    }
                    multiplexer.createStreamChannel { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(CallCollector(promise: promise, what: what))
                        }
                    }.whenComplete { result in
                        switch result {
                        case .success(let stream):
                            stream.write(HTTP2Frame.FramePayload.headers(.init(headers: request)), promise: nil)
                            let empty = ByteBuffer(bytes: [0, 0, 0, 0, 0])
                            stream.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(empty), endStream: true)), promise: nil)
                        case .failure(let error):
                            promise.fail(error)
                        }
                    }
                } catch {
                    promise.fail(error)
                }
            }
        }
    }
}

/// Collects one call's response on its stream.
private final class CallCollector: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    private let promise: EventLoopPromise<GRPCProbeCall.Response>
    private let what: String
    private var response = GRPCProbeCall.Response(httpStatus: 0, grpcStatus: nil, grpcMessage: "", message: [])
    private var body = ByteBuffer()
    private var sawHeaders = false

    init(promise: EventLoopPromise<GRPCProbeCall.Response>, what: String) {
        self.promise = promise
        self.what = what
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if !sawHeaders {
                sawHeaders = true
                response.httpStatus = frame.headers.first(name: ":status").flatMap { Int($0) } ?? 0
            }
            if let status = frame.headers.first(name: "grpc-status") {
                response.grpcStatus = Int(status)
                let message = frame.headers.first(name: "grpc-message") ?? ""
                response.grpcMessage = message.removingPercentEncoding ?? message  // percent-encoded UTF-8
            }
            if frame.endStream { finish() }
        case .data(let frame):
            if case .byteBuffer(var bytes) = frame.data, body.readableBytes < 65_536 { body.writeBuffer(&bytes) }
            if frame.endStream { finish() }
        case .rstStream(let code):
            promise.fail(HTTPCall.Failure.closedEarly("\(what) (RST_STREAM \(code))"))
        default:
            break
        }
    }

    private func finish() {
        // A gRPC message: compressed flag, 4-byte length, then the message.
        if body.readableBytes >= 5, let length = body.getInteger(at: body.readerIndex + 1, as: UInt32.self),
           let bytes = body.getBytes(at: body.readerIndex + 5, length: min(Int(length), body.readableBytes - 5)) {
            response.message = bytes
        }
        promise.succeed(response)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPCall.Failure.closedEarly(what))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
