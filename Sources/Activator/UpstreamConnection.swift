import ActivatorCore
import ControlHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import ThawVocabulary

/// What an upstream connection reports to the request using it. Both live on one event loop.
protocol UpstreamDelegate: AnyObject {
    func upstreamHead(_ head: ResponseScanner.Head)
    func upstreamBody(_ body: ByteBuffer)
    func upstreamEnd()
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamFailed(_ error: any Error)
}

/// One keep-alive HTTP/1.1 connection to a replica, and the last handler in its pipeline.
///
/// Requests go out as bytes written by `RequestWriter`; responses come in as raw bytes that a
/// `ResponseScanner` frames, so they reach the client without being decoded and re-encoded. The request holding the
/// connection can pause reading when the client cannot keep up, so a large response streams through
/// with bounded memory.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let endpoint: EndpointAddress
    private(set) var channel: (any Channel)?
    /// The request using this connection; nil while it idles in the pool.
    weak var delegate: (any UpstreamDelegate)?
    /// Called once when an idle connection closes, so the pool forgets it.
    var onIdleClose: ((UpstreamConnection) -> Void)?
    private var readsPaused = false
    private var readPending = false
    private var failed = false
    private var scanner = ResponseScanner()
    /// The replica sent bytes after a complete response, or said it will close: do not reuse.
    private(set) var reusable = true

    init(endpoint: EndpointAddress) {
        self.endpoint = endpoint
    }

    var isActive: Bool { (channel?.isActive ?? false) && reusable }
    var isWritable: Bool { channel?.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
    }

    /// Call before sending a request: the next bytes are its response.
    func expectResponse(toHEAD: Bool) {
        scanner.expectResponse(toHEAD: toHEAD)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard delegate != nil, scanner.isActive else {
            // Bytes nobody asked for: this connection cannot be trusted with another request.
            reusable = false
            context.close(promise: nil)
            return
        }
        let pieces: [ResponseScanner.Piece]
        do {
            pieces = try scanner.feed(&buffer)
        } catch {
            reusable = false
            report(error)
            context.close(promise: nil)
            return
        }
        if buffer.readableBytes > 0 { reusable = false }
        for piece in pieces {
            // 1xx interim answers never reach here: the scanner skips them, and the activator
            // answers `Expect: 100-continue` itself.
            guard let delegate else { return }
            switch piece {
            case .head(let head):
                if head.closes { reusable = false }
                delegate.upstreamHead(head)
            case .body(let body): delegate.upstreamBody(body)
            case .end: delegate.upstreamEnd()
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        reusable = false
        if scanner.endsAtClose, let delegate {
            // A response without length or chunking ends when the replica closes: that is its end.
            scanner = ResponseScanner()
            delegate.upstreamEnd()
        }
        report(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        report(error)
        context.close(promise: nil)
    }

    private func report(_ error: any Error) {
        guard !failed else { return }
        failed = true
        if let delegate {
            self.delegate = nil
            delegate.upstreamFailed(error)
        } else {
            onIdleClose?(self)
        }
        onIdleClose = nil
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Stops reading the replica's response while the client's socket is full.
    func pauseReads() { readsPaused = true }

    func resumeReads() {
        readsPaused = false
        if readPending {
            readPending = false
            channel?.read()
        }
    }

    func write(_ bytes: ByteBuffer) {
        channel?.write(bytes, promise: nil)
    }

    func flush() { channel?.flush() }

    /// Calls `body` with true when the replica's kernel has acknowledged none of the bytes sent on
    /// this connection. Then nothing of a request sent here reached the replica's server (its
    /// accept queue overflowed and dropped our handshake's last ACK, say), so the request can go
    /// again whatever its method. Linux only (`tcpi_bytes_acked`); elsewhere, or on any doubt, false.
    func checkReplicaTookNothing(_ body: @escaping (Bool) -> Void) {
        #if os(Linux)
        guard let provider = channel as? any SocketOptionProvider else { return body(false) }
        let info: EventLoopFuture<KernelTCPInfo> = provider.unsafeGetSocketOption(level: .tcp, name: .init(rawValue: CInt(TCP_INFO)))
        info.assumeIsolated().whenComplete { result in
            guard case .success(let info) = result else { return body(false) }
            body(info.sentBytesUnacknowledged && info.acknowledgedBytes <= 1)
        }
        #else
        body(false)
        #endif
    }

    func close() {
        delegate = nil
        onIdleClose = nil
        channel?.close(promise: nil)
    }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN: a plain close would leave the unsent
    /// request in the kernel's send queue, retransmitted until the replica takes it after all,
    /// and the request would then be served twice.
    func reset() {
        delegate = nil
        onIdleClose = nil
        guard let channel else { return }
        guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

#if os(Linux)
/// Linux's `struct tcp_info` as the kernel fills it (232 bytes since 5.x; older kernels fill less
/// and the rest stays zero). Glibc's declaration stops before `tcpi_bytes_acked`, so the two
/// fields read here are taken at their fixed offsets in the kernel's append-only layout.
struct KernelTCPInfo: Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// `tcpi_unacked` (offset 24): segments sent and not yet acknowledged.
    var sentBytesUnacknowledged: Bool {
        withUnsafeBytes(of: words) { $0.load(fromByteOffset: 24, as: UInt32.self) } > 0
    }

    /// `tcpi_bytes_acked` (offset 120): bytes the peer acknowledged, the SYN counting as one.
    var acknowledgedBytes: UInt64 {
        withUnsafeBytes(of: words) { $0.load(fromByteOffset: 120, as: UInt64.self) }
    }
}
#endif

/// Idle keep-alive connections to replicas, one pool per event loop so a request and its upstream
/// connection always share a thread and never take a lock.
final class UpstreamPool {
    /// Enough for the connections a busy endpoint keeps in use (wrk at 64 connections reuses every one),
    /// few enough that a burst of thousands leaves a few hundred kilobytes behind, not megabytes.
    static let maxIdlePerEndpoint = 128

    let eventLoop: any EventLoop
    private var idle: [EndpointAddress: [UpstreamConnection]] = [:]
    private let connectTimeout: TimeAmount

    init(eventLoop: any EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    /// An idle keep-alive connection to `endpoint`, if the pool has one: the common case, with no
    /// future and no allocation.
    func idleConnection(to endpoint: EndpointAddress) -> UpstreamConnection? {
        while let connection = idle[endpoint]?.popLast() {
            if connection.isActive {
                connection.onIdleClose = nil
                return connection
            }
        }
        return nil
    }

    /// A new connection to `endpoint`.
    func connect(to endpoint: EndpointAddress) -> EventLoopFuture<UpstreamConnection>.Isolated {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(endpoint: endpoint))
                }
            }
        return UpstreamAddress.connect(bootstrap, to: endpoint).assumeIsolated().flatMapThrowing { channel in
            try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
        }
    }

    /// Takes a connection back after a complete exchange; closes it when the pool is full.
    func release(_ connection: UpstreamConnection) {
        connection.delegate = nil
        // Reads may have been paused for a slow client; the next request must start reading.
        connection.resumeReads()
        guard connection.isActive, idle[connection.endpoint, default: []].count < Self.maxIdlePerEndpoint else {
            connection.close()
            return
        }
        connection.onIdleClose = { [weak self] closed in
            self?.idle[closed.endpoint]?.removeAll { $0 === closed }
        }
        idle[connection.endpoint, default: []].append(connection)
    }

    /// Closes idle connections to endpoints that are no longer routable.
    func closeIdle(except keep: Set<EndpointAddress>) {
        for (endpoint, connections) in idle where !keep.contains(endpoint) {
            idle[endpoint] = nil
            connections.forEach { $0.close() }
        }
    }
}
