import ControlHTTP
import NIOCore
import NIOHTTP2
import NIOPosix
import ThawVocabulary

/// What an upstream stream tells the call it carries; called on the stream's event loop.
protocol UpstreamStreamDelegate: AnyObject {
    func upstreamFrame(_ payload: HTTP2Frame.FramePayload)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The stream closed; `reset`: the replica sent RST_STREAM with this code (nil when the stream
    /// or its connection ended otherwise); `refusedByGoAway`: the replica's GOAWAY named a last
    /// stream below this one, so it was never processed.
    func upstreamClosed(reset: HTTP2ErrorCode?, refusedByGoAway: Bool)
}

/// HTTP/2 connections to h2c replicas, one per endpoint on this event loop, each carrying many
/// streams at once. Like `UpstreamPool` it is made on its loop and only touched there, so opening
/// a stream takes no lock.
///
/// A connection is replaced when it closes or the replica sends GOAWAY (it is draining): calls
/// already on it finish there, new ones go on a new connection.
final class UpstreamHTTP2Pool {
    let eventLoop: any EventLoop
    private let connectTimeout: TimeAmount
    private var connections: [EndpointAddress: HTTP2Upstream] = [:]
    /// Calls waiting for a connection being opened, so a burst opens one connection, not one each.
    private var opening: [EndpointAddress: [(Result<HTTP2Upstream, any Error>) -> Void]] = [:]

    /// Flow-control window per stream: large enough that a message of a few hundred kilobytes goes
    /// in one round trip, small enough that 100 streams of one client cannot buffer much.
    static let streamWindow = 256 * 1024
    static var settings: HTTP2Settings {
        [HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
         HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
         HTTP2Setting(parameter: .initialWindowSize, value: streamWindow)]
    }

    init(eventLoop: any EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    /// Opens a stream to `endpoint` whose frames go to `delegate`, on a new connection when
    /// `fresh`; `then` runs on this loop.
    func openStream(to endpoint: EndpointAddress, fresh: Bool, delegate: any UpstreamStreamDelegate,
                    then: @escaping (Result<UpstreamStream, any Error>) -> Void) {
        connection(to: endpoint, fresh: fresh) { [eventLoop] result in
            switch result {
            case .failure(let error):
                then(.failure(error))
            case .success(let upstream):
                let handler = UpstreamStreamHandler(delegate: delegate, connection: upstream)
                let bound = NIOLoopBound(handler, eventLoop: eventLoop)
                upstream.multiplexer.createStreamChannel { stream in
                    stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(bound.value) }
                }.assumeIsolated().whenComplete { result in
                    then(result.map { UpstreamStream(channel: $0, handler: handler) })
                }
            }
        }
    }

    private func connection(to endpoint: EndpointAddress, fresh: Bool, then: @escaping (Result<HTTP2Upstream, any Error>) -> Void) {
        if !fresh, let upstream = connections[endpoint], upstream.usable {
            then(.success(upstream))
            return
        }
        if !fresh, opening[endpoint] != nil {
            opening[endpoint]!.append(then)
            return
        }
        opening[endpoint, default: []].append(then)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        UpstreamAddress.connect(bootstrap, to: endpoint).assumeIsolated().flatMapThrowing { channel -> HTTP2Upstream in
            var connection = NIOHTTP2Handler.ConnectionConfiguration()
            connection.initialSettings = Self.settings
            var stream = NIOHTTP2Handler.StreamConfiguration()
            stream.targetWindowSize = Self.streamWindow
            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: connection, streamConfiguration: stream) { pushed in
                // A replica may not push: refuse the stream.
                pushed.close(promise: nil)
                return pushed.eventLoop.makeSucceededVoidFuture()
            }
            let upstream = HTTP2Upstream(endpoint: endpoint, channel: channel, multiplexer: multiplexer)
            try channel.pipeline.syncOperations.addHandler(GoAwayWatch(upstream: upstream))
            return upstream
        }.whenComplete { [self] result in
            let waiting = opening.removeValue(forKey: endpoint) ?? []
            if case .success(let upstream) = result {
                connections[endpoint] = upstream
                upstream.channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
                    upstream.usable = false
                    if connections[endpoint] === upstream { connections[endpoint] = nil }
                }
            }
            for waiter in waiting { waiter(result) }
        }
    }

    /// Closes connections to endpoints the routing table no longer has; calls on them are cut off,
    /// as the replica is gone.
    func closeIdle(except keep: Set<EndpointAddress>) {
        for (endpoint, upstream) in connections where !keep.contains(endpoint) {
            connections[endpoint] = nil
            upstream.channel.close(promise: nil)
        }
    }
}

/// One HTTP/2 connection to a replica.
final class HTTP2Upstream {
    let endpoint: EndpointAddress
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    /// False once the replica sent GOAWAY or the connection closed: no new streams go on it.
    var usable = true
    /// The last stream the replica's GOAWAY said it may process; streams above it were not.
    var goAwayLastStream: HTTP2StreamID?

    init(endpoint: EndpointAddress, channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.endpoint = endpoint
        self.channel = channel
        self.multiplexer = multiplexer
    }
}

/// Sees the connection-level frames the multiplexer passes on; a GOAWAY retires the connection.
private final class GoAwayWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    private let upstream: HTTP2Upstream

    init(upstream: HTTP2Upstream) {
        self.upstream = upstream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway(let lastStreamID, _, _) = unwrapInboundIn(data).payload {
            upstream.usable = false
            upstream.goAwayLastStream = min(lastStreamID, upstream.goAwayLastStream ?? lastStreamID)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream's error is that stream's (its channel hears of it too); any other ends the connection.
        guard !(error is NIOHTTP2Errors.StreamError) else { return }
        upstream.usable = false
        context.close(promise: nil)
    }
}

/// An open stream to a replica.
struct UpstreamStream {
    let channel: any Channel
    let handler: UpstreamStreamHandler

    var isWritable: Bool { channel.isWritable }

    func write(_ payload: HTTP2Frame.FramePayload) {
        channel.write(payload, promise: nil)
    }

    func flush() { channel.flush() }

    /// Ends the stream now: RST_STREAM (CANCEL) when it is still open.
    func cancel() {
        handler.delegate = nil
        channel.close(promise: nil)
    }

    func pauseReads() { handler.pauseReads() }
    func resumeReads() { handler.resumeReads() }
}

/// The handler on a replica stream: hands its frames to the call and holds reads while the
/// client cannot take more (the stream's flow-control window then closes on the replica).
final class UpstreamStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    weak var delegate: (any UpstreamStreamDelegate)?
    private let connection: HTTP2Upstream
    private var context: ChannelHandlerContext?
    private var paused = false
    private var readPending = false
    private var reset: HTTP2ErrorCode?

    init(delegate: any UpstreamStreamDelegate, connection: HTTP2Upstream) {
        self.delegate = delegate
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        if case .rstStream(let code) = payload {
            reset = code
            return
        }
        delegate?.upstreamFrame(payload)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let delegate = delegate
        self.delegate = nil
        var refusedByGoAway = false
        if let last = connection.goAwayLastStream, let id = try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID) {
            refusedByGoAway = id > last
        }
        delegate?.upstreamClosed(reset: reset, refusedByGoAway: refusedByGoAway)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamClosed { reset = streamError.errorCode }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if paused { readPending = true } else { context.read() }
    }

    func pauseReads() { paused = true }

    func resumeReads() {
        paused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }
}
