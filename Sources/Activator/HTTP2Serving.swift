import ActivatorCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Tells an HTTP/2 client from an HTTP/1.1 one by the first bytes of its connection, on the same
/// port (`ConnectionPreface`). A connection starts with the HTTP/1.1 handlers in place, so one
/// that sends nothing is timed out and counted as idle exactly as before; at the 24-byte preface
/// they give way to HTTP/2's. Either way this handler then removes itself: HTTP/1.1 traffic pays
/// for it on a connection's first read only.
final class PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var received: ByteBuffer?
    /// Set while HTTP/1.1's handlers leave (NIO removes a decoder on the next loop tick): bytes
    /// arriving meanwhile wait here, so none reaches the HTTP/1.1 parser.
    private var switching = false
    private let switchToHTTP2: (ChannelHandlerContext) throws -> EventLoopFuture<Void>

    /// `switchToHTTP2` replaces the HTTP/1.1 handlers after this one with HTTP/2's; its future
    /// completes once they are gone.
    init(switchToHTTP2: @escaping (ChannelHandlerContext) throws -> EventLoopFuture<Void>) {
        self.switchToHTTP2 = switchToHTTP2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var held = received {
            held.writeBuffer(&bytes)
            bytes = held
        }
        if switching {
            received = bytes
            return
        }
        switch ConnectionPreface.classify(bytes.readableBytesView) {
        case .undecided:
            received = bytes
        case .http1:
            // Handed on before this handler leaves: once removed, its context no longer leads anywhere.
            received = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .http2:
            received = bytes
            switching = true
            do {
                try switchToHTTP2(context).assumeIsolated().whenComplete { [self] _ in
                    if let received { context.fireChannelRead(wrapInboundOut(received)) }
                    received = nil
                    context.fireChannelReadComplete()
                    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                }
            } catch {
                context.close(promise: nil)
            }
        }
    }
}

/// Sent through every client connection's pipeline when the activator starts to drain.
struct DrainNotice: Sendable {}

/// The connection-level side of an HTTP/2 client: counts its open streams for the connection cap
/// (idle with none), closes it after the keep-alive timeout with none, and on drain sends GOAWAY so
/// the client opens no more streams here while those in flight finish; then closes it.
final class ClientHTTP2Connection: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let mark: ClientConnections.Mark
    private let keepAliveTimeout: TimeAmount
    private var openStreams = 0
    private var highestStream = HTTP2StreamID(0)
    private var goingAway = false
    private var idleTimer: Scheduled<Void>?

    init(mark: ClientConnections.Mark, keepAliveTimeout: TimeAmount) {
        self.mark = mark
        self.keepAliveTimeout = keepAliveTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            openStreams += 1
            if created.streamID > highestStream { highestStream = created.streamID }
            if openStreams == 1 {
                mark.busy()
                idleTimer?.cancel()
                idleTimer = nil
            }
        case is StreamClosedEvent:
            openStreams -= 1
            if openStreams == 0 {
                if goingAway {
                    context.close(promise: nil)
                } else {
                    mark.idle()
                    armIdleTimer(context: context)
                }
            }
        case is DrainNotice:
            goAway(context: context)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func goAway(context: ChannelHandlerContext) {
        guard !goingAway else { return }
        goingAway = true
        let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStream, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        if openStreams == 0 { context.close(promise: nil) }
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: keepAliveTimeout) { [self] in
            idleTimer = nil
            if openStreams == 0 { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO has already answered a protocol error with GOAWAY; the connection cannot go on.
        context.close(promise: nil)
    }
}
