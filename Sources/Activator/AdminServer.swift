import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP server for operators and orchestrators: metrics, health, readiness, status.
///
/// Kept apart from the proxy port so a scrape or a probe never queues behind user traffic, and a
/// user request can never reach it.
struct AdminServer: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
    }

    typealias Responder = @Sendable (HTTPRequestHead) -> Reply

    static func bind(host: String, port: Int, group: any EventLoopGroup, responder: @escaping Responder) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(responder: responder))
                }
            }
            .bind(host: host, port: port).get()
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let responder: AdminServer.Responder
    private var head: HTTPRequestHead?

    init(responder: @escaping AdminServer.Responder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let reply = responder(head)
            let body = ByteBuffer(string: reply.body)
            var response = HTTPResponseHead(version: head.version, status: reply.status)
            response.headers.add(name: "content-type", value: reply.contentType)
            response.headers.add(name: "content-length", value: String(body.readableBytes))
            if !head.isKeepAlive { response.headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}
