import NIOCore
import NIOHTTP1
import NIOPosix
import ThawVocabulary

/// One small HTTP/1.1 exchange on its own connection: readiness probes, pokes, stat reports and status.
///
/// These are control messages, a few per second, so a fresh connection each time keeps them simple
/// and independent of the data path's pooled connections; every call has a deadline.
public struct HTTPCall: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case timedOut(String)
        case closedEarly(String)
        public var description: String {
            switch self {
            case .timedOut(let what): "\(what): no answer within the deadline"
            case .closedEarly(let what): "\(what): the connection closed before the response ended"
            }
        }
    }

    public static func perform(
        on eventLoop: any EventLoop, to endpoint: EndpointAddress, method: HTTPMethod = .GET, path: String,
        headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: TimeAmount
    ) async throws -> Response {
        let what = "\(method) http://\(endpoint)\(path)"
        let promise = eventLoop.makePromise(of: Response.self)
        return try await OneShotConnection.call(on: eventLoop, to: endpoint, timeout: timeout, promise: promise, timedOut: Failure.timedOut(what)) {
            $0.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, what: what))
                }
            }
        } send: { channel in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            if !headers.contains(where: { $0.0.lowercased() == "host" }) { head.headers.add(name: "host", value: endpoint.description) }
            head.headers.add(name: "connection", value: "close")
            head.headers.add(name: "user-agent", value: "thaw")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body { head.headers.add(name: "content-length", value: String(body.count)) }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
    }
}

/// What every one-shot control call shares (`HTTPCall`, `GRPCProbeCall`): a fresh connection, one
/// deadline for the whole call (connecting included) that fails it and closes the connection, the
/// connection closed when the call ends, and no waiting out the timeout when the caller is
/// cancelled (a shutdown).
enum OneShotConnection {
    static func call<Response: Sendable>(
        on eventLoop: any EventLoop, to endpoint: EndpointAddress, timeout: TimeAmount, promise: EventLoopPromise<Response>,
        timedOut: any Error, configure: (ClientBootstrap) -> ClientBootstrap = { $0 }, send: (any Channel) -> Void
    ) async throws -> Response {
        let deadlineAt = NIODeadline.now() + timeout
        let bootstrap = configure(ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1))
        let channel: any Channel
        do {
            channel = try await UpstreamAddress.connect(bootstrap, to: endpoint).get()
        } catch {
            promise.fail(error)
            throw error
        }
        let deadline = eventLoop.scheduleTask(deadline: deadlineAt) {
            promise.fail(timedOut)
            channel.close(promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        send(channel)
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            eventLoop.execute {
                promise.fail(CancellationError())
                channel.close(promise: nil)
            }
        }
    }
}

/// Collects one response; fails the promise if the connection ends first.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<HTTPCall.Response>
    private let what: String
    private var status = 0
    private var headers: [(String, String)] = []
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<HTTPCall.Response>, what: String) {
        self.promise = promise
        self.what = what
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            headers = head.headers.map { ($0.name, $0.value) }
        case .body(var part):
            if body.readableBytes < 1024 * 1024 { body.writeBuffer(&part) }
        case .end:
            promise.succeed(.init(status: status, headers: headers, body: String(buffer: body)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPCall.Failure.closedEarly(what))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Connects to an endpoint by IP literal when it is one, so the data path never waits on a resolver.
public enum UpstreamAddress {
    public static func connect(_ bootstrap: ClientBootstrap, to endpoint: EndpointAddress) -> EventLoopFuture<any Channel> {
        if let address = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            return bootstrap.connect(to: address)
        }
        return bootstrap.connect(host: endpoint.host, port: endpoint.port)
    }
}
