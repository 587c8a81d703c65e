import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP server for control traffic: metrics, health, readiness, status, stat intake.
///
/// Kept apart from any proxy port so a scrape or a probe never queues behind user traffic, and a
/// user request can never reach it. Bodies are small JSON messages, so each is collected whole.
public struct ControlServer: Sendable {
    public struct Request: Sendable {
        public var head: HTTPRequestHead
        public var body: [UInt8]

        public init(head: HTTPRequestHead, body: [UInt8] = []) {
            self.head = head
            self.body = body
        }
        /// The path without its query.
        public var path: String { head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "" }
    }

    public struct Reply: Sendable {
        public var status: HTTPResponseStatus
        public var contentType: String
        public var body: String

        public init(status: HTTPResponseStatus, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        public static func text(_ body: String, status: HTTPResponseStatus = .ok) -> Reply {
            Reply(status: status, contentType: "text/plain; charset=utf-8", body: body.hasSuffix("\n") ? body : body + "\n")
        }
    }

    public typealias Responder = @Sendable (Request) async -> Reply

    /// Bodies above this are refused with 413.
    public static let maxBodyBytes = 4 * 1024 * 1024
    /// A request must arrive whole within this of its first byte; a connection may idle this long
    /// between requests. The clients (sidecars, activators, the collector, `curl`) send small
    /// requests at once, so a connection that trickles or sits idle is closed, not kept forever.
    public static let requestTimeout: TimeAmount = .seconds(30)
    public static let idleTimeout: TimeAmount = .seconds(60)

    public static func bind(host: String, port: Int, group: any EventLoopGroup, requestTimeout: TimeAmount = requestTimeout,
                            idleTimeout: TimeAmount = idleTimeout, responder: @escaping Responder) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let clock = RequestClock(requestTimeout: requestTimeout, idleTimeout: idleTimeout)
                    try channel.pipeline.syncOperations.addHandler(ConnectionDeadlines(clock: clock))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(responder: responder, clock: clock))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// When the request in progress on a connection began (its first byte), and when the connection
/// last finished one; shared by the two handlers of one connection, on its event loop.
private final class RequestClock {
    let requestTimeout: TimeAmount
    let idleTimeout: TimeAmount
    var requestStarted: NIODeadline?
    var idleSince = NIODeadline.now()

    init(requestTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }

    /// How often a connection is looked at: a sixth of the shorter limit, at most every 5 s.
    var checkInterval: TimeAmount { min(.seconds(5), .nanoseconds(min(requestTimeout, idleTimeout).nanoseconds / 6)) }
}

/// Closes a connection whose request does not arrive whole within `requestTimeout` of its first
/// byte, or that idles past `idleTimeout`. It sees raw bytes, before the HTTP decoder, so a head
/// sent a byte at a time is timed too.
private final class ConnectionDeadlines: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let clock: RequestClock
    private var timer: Scheduled<Void>?

    init(clock: RequestClock) {
        self.clock = clock
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if clock.requestStarted == nil { clock.requestStarted = .now() }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// One check every few seconds per connection, not a timer per request.
    private func arm(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: clock.checkInterval) { [self] in
            let now = NIODeadline.now()
            if let started = clock.requestStarted, now - started > clock.requestTimeout {
                context.close(promise: nil)
            } else if clock.requestStarted == nil, now - clock.idleSince > clock.idleTimeout {
                context.close(promise: nil)
            } else {
                arm(context: context)
            }
        }
    }
}

private final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let responder: ControlServer.Responder
    private let clock: RequestClock
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(responder: @escaping ControlServer.Responder, clock: RequestClock) {
        self.responder = responder
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(let part):
            if body.count + part.readableBytes > ControlServer.maxBodyBytes {
                tooLarge = true
            } else {
                body.append(contentsOf: part.readableBytesView)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(.text("request body over \(ControlServer.maxBodyBytes) bytes", status: .payloadTooLarge), for: head, context: context)
                return
            }
            let request = ControlServer.Request(head: head, body: body)
            body = []
            let responder = self.responder
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await responder(request) }.whenSuccess { reply in
                let (handler, context) = bound.value
                handler.write(reply, for: head, context: context)
            }
        }
    }

    private func write(_ reply: ControlServer.Reply, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: reply.body)
        var response = HTTPResponseHead(version: head.version, status: reply.status)
        response.headers.add(name: "content-type", value: reply.contentType)
        response.headers.add(name: "content-length", value: String(body.readableBytes))
        if !head.isKeepAlive { response.headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [clock] _ in
            clock.requestStarted = nil
            clock.idleSince = .now()
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
