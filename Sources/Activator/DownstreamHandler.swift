import ActivatorCore
import Logging
import NIOCore
import NIOHTTP1
import ThawVocabulary
import TrafficStats

/// Serves one client connection: routes each request, waits for an endpoint when none has room,
/// and streams the request to a pooled replica connection and the response back.
///
/// It runs on the client's event loop and so does the upstream connection it uses, so the whole
/// exchange is lock-free except for the target's balancer. Reading stops on whichever side is
/// ahead, so bodies of any size stream through in bounded memory.
///
/// The decisions are not made here: the connection's lifecycle is a `ClientConnectionState` and
/// each request's a `ProxiedRequestState`. This handler feeds them what happens on the sockets and
/// performs the actions they return.
final class DownstreamHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Request parts held while the request waits for an endpoint; reading pauses past this.
    static let maxHeldBytes = 256 * 1024
    /// How long the rest of an unwanted request body is read and dropped before the connection closes.
    static let lingerTime: TimeAmount = .seconds(5)
    /// How long a request sent on a new replica connection may go unacknowledged by the replica's
    /// kernel before it is sent again on another: longer than loopback's and a LAN's retransmit
    /// times, shorter than the second a SYN-ACK retransmit takes to rescue a dropped handshake.
    static let unsentRetryDelay: TimeAmount = .milliseconds(750)

    private let directory: RouteDirectory
    private let pool: UpstreamPool
    private let settings: DownstreamSettings
    private let isSidecar: Bool
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var clientIP: String?

    private var connection: ClientConnectionState
    /// The request being proxied; nil between requests and after an answer of our own.
    private var request: ProxiedRequest?
    private var readPending = false
    /// The connection's one timer, for the request's deadline and for slow clients (a head, a
    /// body, an idle keep-alive). It moves only when it would fire too late; when it fires it asks
    /// both and re-arms for the earlier of what they want next. Keep-alive traffic then costs one
    /// clock read per socket read and no timer work per request, and a waiting request one
    /// scheduled task, not two.
    private var timer: Scheduled<Void>?
    /// When `timer` fires, in uptime nanoseconds.
    private var timerAt: UInt64 = 0
    private var routes = RouteDirectory.Cache()
    /// The metric series of the last finished request; most requests on a connection share it.
    private var lastSeries: (metrics: TargetMetrics, status: Int, series: TargetMetrics.StatusSeries)?
    /// Parts of requests that arrived while another was being answered, in order.
    private var pipelined: [HTTPServerRequestPart] = []
    private var replaying = false

    /// The last socket read from the client, in uptime nanoseconds.
    private var lastRead: UInt64

    /// This connection's idle mark for the connection cap, and whether it says idle now.
    private let mark: ClientConnections.Mark
    private var markedIdle = false
    /// Whether the read under way delivered any request part (see `ClientConnectionState.readCompleted`).
    private var partsThisRead = false

    init(directory: RouteDirectory, pool: UpstreamPool, settings: DownstreamSettings, mark: ClientConnections.Mark, logger: Logger) {
        self.directory = directory
        self.mark = mark
        self.pool = pool
        self.settings = settings
        isSidecar = settings.role.isSidecar
        self.logger = logger
        lastRead = NIODeadline.now().uptimeNanoseconds
        connection = ClientConnectionState(timeouts: settings.clientTimeouts, now: lastRead)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = context.channel.remoteAddress?.ipAddress
        // A new connection that has sent nothing counts as idle for the connection cap.
        markIdle(true)
        wake(at: connection.firstCheck, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        partsThisRead = true
        // A pipelined request (sent before our answer to the previous one): hold it, and stop
        // reading, until the current exchange ends. Handled here rather than by NIO's pipelining
        // handler, which pauses socket reads around every response and costs two epoll calls each.
        if !pipelined.isEmpty || part.isHead && connection.isServing {
            pipelined.append(part)
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            start(head, context: context)
        case .body(let body):
            // Without a request, the body belongs to one already answered: dropped.
            guard let request else { return }
            request.capture?.request(body.readableBytesView)
            request.mirror?.body.append(body.readableBytesView)
            if let upstream = request.upstream {
                request.writer.body(body, into: upstream.write)
                request.needsUpstreamFlush = true
            } else {
                request.hold(body)
            }
        case .end(let trailers):
            guard let request else {
                perform(connection.droppedBodyEnded(now: NIODeadline.now().uptimeNanoseconds), context: context)
                return
            }
            request.state.requestBodyEnded()
            if let capture = request.capture { settings.payloadLog?.offer(.request, from: capture) }
            if let (target, copy) = request.mirror, let mirror = settings.mirror {
                // The whole request is here: its copy goes now, off this exchange.
                request.mirror = nil
                if copy.overflowed { mirror.dropTooLarge(target: target.name) } else { mirror.send(request.head, body: copy.bytes, to: target) }
            }
            if let upstream = request.upstream {
                request.writer.end(trailers, into: upstream.write)
                upstream.flush()
                request.needsUpstreamFlush = false
            } else {
                request.held.append(.end(trailers))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastRead = NIODeadline.now().uptimeNanoseconds
        if markedIdle {
            // Bytes of the next request's head, unless this read was the end of the last one.
            connection.readCompleted(now: lastRead, deliveredParts: partsThisRead)
            markIdle(connection.isIdle)
        }
        partsThisRead = false
        if let request, request.needsUpstreamFlush, let upstream = request.upstream {
            request.needsUpstreamFlush = false
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if shouldHoldReads {
            readPending = true
        } else {
            context.read()
        }
    }

    private var shouldHoldReads: Bool {
        if !pipelined.isEmpty { return true }
        guard let request else { return false }
        if let upstream = request.upstream { return !upstream.isWritable }
        return request.heldBytes >= Self.maxHeldBytes
    }

    private func resumeReadsIfHeld() {
        guard readPending, !shouldHoldReads, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let upstream = request?.upstream {
            if context.channel.isWritable { upstream.resumeReads() } else { upstream.pauseReads() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        connection.closed()
        if let request { clientLeft(request) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request we cannot parse gets 400 when no response has started; the connection then
        // closes, since the stream can no longer be framed. (This replaces NIO's protocol error
        // handler, one handler fewer on every read and write.)
        if error is HTTPParserError, !connection.isClosing, pipelined.isEmpty {
            if let request, request.state.responseStatus == nil {
                // The body broke its framing (a bad chunk size) after the head went to a replica:
                // abort the replica's exchange, and tell the client why instead of just closing.
                connection.closeAfterThisResponse()
                perform(request, request.state.requestFailed(status: 400, message: "malformed request body: \(error)"), context: context)
            } else if request == nil, !connection.isServing {
                connection.closeAfterThisResponse()
                writeSimpleResponse(version: .http1_1, status: .badRequest, message: "malformed HTTP request: \(error)",
                                    extraHeaders: [], context: context)
            }
            if let request { clientLeft(request) }
            perform(connection.abort(), context: context)
            return
        }
        if let request { clientLeft(request) }
        connection.closed()
        context.close(promise: nil)
    }

    // MARK: Routing and admission

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        // A head that comes while the connection closes is not served.
        guard connection.requestStarted(continues: Self.connectionContinues(after: head)) else { return }
        markIdle(false)
        if let refusal = RequestHeadCheck.refusal(for: head) {
            // Before routing: an ambiguous or oversized head is refused whatever it names.
            if refusal.closesConnection { connection.closeAfterThisResponse() }
            respondEarly(head: head, status: refusal.status, message: refusal.message, context: context)
            return
        }
        let host = settings.fixedHost ?? head.headers.first(name: "host") ?? ""
        let path = head.uri
        guard let target = directory.resolve(host: host, path: path, cache: &routes) else {
            respondEarly(head: head, status: .notFound,
                         message: "no target or service is routed for host \"\(host)\" and path \"\(path)\" on this activator",
                         context: context)
            return
        }
        if target.speaksHTTP2 {
            respondEarly(head: head, status: .httpVersionNotSupported,
                         message: "target \(target.name) speaks HTTP/2 only (protocol: h2c): send HTTP/2 with prior knowledge, as gRPC clients do",
                         context: context)
            return
        }
        if head.version.minor == 0, head.headers.contains(name: "transfer-encoding") {
            // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            respondEarly(head: head, status: .badRequest, message: "HTTP/1.0 requests cannot use Transfer-Encoding", context: context)
            return
        }
        if isSidecar, head.headers.contains(name: ProxyHeaders.probe) {
            // A readiness probe (from the activator or the local driver) is answered from this
            // sidecar's own probe of its model server, and never counted as traffic.
            let ready = target.hasReadyEndpoint && !settings.draining.isOn
            respondEarly(head: head, status: ready ? .ok : .serviceUnavailable,
                         message: ready ? "ready" : "not ready: the model server has not passed its readiness check", context: context)
            return
        }
        let now = NIODeadline.now()
        let request = ProxiedRequest(head: head, target: target, arrival: now, timeout: target.timeout)
        request.capture = settings.payloadLog?.capture(requestContentType: head.headers.first(name: "content-type"))
        if settings.mirror != nil, let mirror = directory.mirror(host: host, path: path, cache: routes) {
            request.mirror = (mirror, BoundedBody(limit: RequestMirror.maxBody))
        }
        self.request = request
        wake(at: request.deadline.uptimeNanoseconds, context: context)
        let eventLoop = context.eventLoop
        request.proxied = isSidecar && head.headers.contains(name: ProxyHeaders.proxiedBy)
        admit(request, target.admit(proxied: request.proxied) { self.waiter(for: request, on: eventLoop) }, context: context)
    }

    /// Makes sure the timer fires by `uptime`.
    private func wake(at uptime: UInt64, context: ChannelHandlerContext) {
        if timer != nil, timerAt <= uptime { return }
        timer?.cancel()
        timerAt = uptime
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(uptime)) { [self] in
            timer = nil
            timerFired()
        }
    }

    private func timerFired() {
        guard let context else { return }
        let now = NIODeadline.now()
        if let request, !request.state.isFinished, now >= request.deadline {
            timedOut(request, context: context)
        }
        let bodyPending = request.map { !$0.state.requestEnded } ?? false
        perform(connection.timerFired(now: now.uptimeNanoseconds, lastRead: lastRead, bodyPending: bodyPending,
                                      readsHeldByUs: shouldHoldReads), context: context)
        if let request, !request.state.isFinished, self.context != nil {
            wake(at: request.deadline.uptimeNanoseconds, context: context)
        }
    }

    private func waiter(for request: ProxiedRequest, on eventLoop: any EventLoop) -> WaitingRequest {
        let bound = NIOLoopBound((self, request), eventLoop: eventLoop)
        return WaitingRequest { result in
            eventLoop.execute {
                let (handler, request) = bound.value
                handler.dispatched(request, result)
            }
        }
    }

    private func admit(_ request: ProxiedRequest, _ admission: TargetBalancer<WaitingRequest>.Admission, context: ChannelHandlerContext) {
        if case .queued(_, let poked) = admission {
            if request.queuedAt == nil { request.queuedAt = NIODeadline.now() }
            if poked { request.target.metrics.pokes.increment() }
        }
        perform(request, request.state.admitted(admission), context: context)
    }

    /// A queued request was given an endpoint (or turned away) by another thread. A request that
    /// is no longer this connection's is finished, and its machine only gives a late endpoint back.
    private func dispatched(_ request: ProxiedRequest, _ result: Result<EndpointAddress, Rejection>) {
        guard let context else {
            if case .success(let endpoint) = result { request.target.release(endpoint, proxied: request.proxied) }
            return
        }
        perform(request, request.state.dispatched(result), context: context)
    }

    // MARK: Slow clients

    /// Tells the connection cap whether this connection may give way; one atomic store per change.
    private func markIdle(_ idle: Bool) {
        guard idle != markedIdle else { return }
        markedIdle = idle
        if idle { mark.idle() } else { mark.busy() }
    }

    // MARK: Forwarding

    private func connect(_ request: ProxiedRequest, to endpoint: EndpointAddress, fresh: Bool, context: ChannelHandlerContext) {
        if let queuedAt = request.queuedAt {
            request.target.metrics.buffered.record(Double((NIODeadline.now() - queuedAt).nanoseconds) / 1e9)
            request.queuedAt = nil
        }
        if !fresh, let connection = pool.idleConnection(to: endpoint) {
            forward(request, over: connection, reused: true, context: context)
            return
        }
        pool.connect(to: endpoint).whenComplete { [self] result in
            guard request === self.request, request.state.phase == .connecting(endpoint), let context = self.context else {
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                forward(request, over: connection, reused: false, context: context)
            case .failure(let error):
                logger.debug("cannot reach endpoint", metadata: ["target": "\(request.target.name)", "endpoint": "\(endpoint)", "error": "\(error)"])
                perform(request, request.state.connectFailed(), context: context)
            }
        }
    }

    private func forward(_ request: ProxiedRequest, over upstream: UpstreamConnection, reused: Bool, context: ChannelHandlerContext) {
        guard request.state.connected(reused: reused) else {
            pool.release(upstream)
            return
        }
        request.upstream = upstream
        upstream.delegate = self
        if context.channel.isWritable { upstream.resumeReads() } else { upstream.pauseReads() }
        let expectsContinue = request.head.headers[canonicalForm: "expect"].contains { $0.lowercased() == "100-continue" }
        upstream.expectResponse(toHEAD: request.head.method == .HEAD)
        upstream.write(request.writer.head(request.head, clientIP: clientIP))
        for part in request.held {
            switch part {
            case .body(let body): request.writer.body(body, into: upstream.write)
            case .end(let trailers): request.writer.end(trailers, into: upstream.write)
            }
        }
        request.held.removeAll()
        request.heldBytes = 0
        upstream.flush()
        if !reused { watchForUnsentRequest(request, on: upstream, context: context) }
        if expectsContinue, !request.state.requestEnded {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
        }
        resumeReadsIfHeld()
    }

    /// A new connection can complete on our side while the replica's kernel dropped the handshake's
    /// last ACK (its accept queue was full): the request then sits unsent for seconds. If the
    /// replica acknowledged none of it, it goes again on another new connection.
    private func watchForUnsentRequest(_ request: ProxiedRequest, on upstream: UpstreamConnection, context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.unsentRetryDelay) { [self] in
            guard request === self.request, request.upstream === upstream, case .sending = request.state.phase else { return }
            upstream.checkReplicaTookNothing { [self] tookNothing in
                guard tookNothing, request === self.request, request.upstream === upstream, let context = self.context else { return }
                logger.debug("replica took none of the request on a new connection; sending it again", metadata: [
                    "target": "\(request.target.name)", "endpoint": "\(upstream.endpoint)"])
                request.upstream = nil
                upstream.reset()
                request.target.metrics.retries.increment()
                perform(request, request.state.sendStalled(), context: context)
            }
        }
    }

    func upstreamHead(_ head: ResponseScanner.Head) {
        guard let request, let context else { return }
        request.state.responseHead(status: head.status)
        request.capture?.responseStarted(contentType: ResponseScanner.headerValue(head.raw, name: "content-type"), chunked: head.chunked)
        let clientMinor = request.head.version.minor == 0 ? 0 : 1
        // A body that ends only when the replica closes can end the client's response only by
        // closing too; a request still sending its body cannot be followed by another.
        if head.delimitedByClose || !request.state.requestEnded { connection.closeAfterThisResponse() }
        let close = connection.closeAfterResponse
        if !head.hasHopByHop, !close, head.minorVersion == clientMinor, clientMinor == 1 {
            context.write(wrapOutboundOut(head.raw), promise: nil)
        } else {
            context.write(wrapOutboundOut(ResponseScanner.rewrittenHead(head.raw, minorVersion: clientMinor, close: close,
                                                                        chunked: head.chunked)), promise: nil)
        }
    }

    func upstreamBody(_ body: ByteBuffer) {
        request?.capture?.response(body.readableBytesView)
        context?.write(wrapOutboundOut(body), promise: nil)
    }

    func upstreamEnd() {
        guard let request, let context else { return }
        perform(request, request.state.responseEnded(), context: context)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReadsIfHeld() }
    }

    func upstreamFailed(_ error: any Error) {
        guard let request, let context else { return }
        // The connection reports its own failure and closes itself.
        request.upstream = nil
        if request.state.responseStatus != nil {
            logger.info("replica failed mid-response; closing the client connection", metadata: [
                "target": "\(request.target.name)", "endpoint": "\(request.state.endpoint.map { "\($0)" } ?? "?")", "error": "\(error)"])
        }
        perform(request, request.state.replicaFailed("\(error)", hasBody: request.hasBody), context: context)
    }

    // MARK: Endings

    private func timedOut(_ request: ProxiedRequest, context: ChannelHandlerContext) {
        let action = request.state.deadlinePassed()
        if case .withdraw(let ticket) = action {
            // Still queued, unless an endpoint is already on its way: then `dispatched` answers 504.
            let dequeued = request.target.cancel(ticket: ticket) != nil
            perform(request, request.state.withdrawnAfterDeadline(dequeued: dequeued), context: context)
        } else {
            perform(request, action, context: context)
        }
    }

    /// The client went away: take the request out of the queue or off its replica.
    private func clientLeft(_ request: ProxiedRequest) {
        let action = request.state.clientLeft()
        self.request = nil
        switch action {
        case .withdraw(let ticket):
            // An endpoint already on its way is given back when it arrives.
            if request.target.cancel(ticket: ticket) != nil {
                request.target.metrics.finished(status: 499, seconds: Double((NIODeadline.now() - request.arrival).nanoseconds) / 1e9)
            }
        case .abort(let status, let endpoint, _):
            request.upstream?.close()
            request.upstream = nil
            complete(request, status: status, releasing: endpoint)
        default:
            break
        }
    }

    /// Does what a request's state machine asked.
    private func perform(_ request: ProxiedRequest, _ action: ProxiedRequestState.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .connect(let endpoint, let fresh):
            connect(request, to: endpoint, fresh: fresh, context: context)
        case .reroute(let endpoint):
            request.target.metrics.retries.increment()
            admit(request, request.target.reroute(waiter(for: request, on: context.eventLoop), proxied: request.proxied, from: endpoint),
                  context: context)
        case .withdraw(let ticket):
            _ = request.target.cancel(ticket: ticket)
        case .release(let endpoint):
            request.target.release(endpoint, proxied: request.proxied)
        case .answer(let answer):
            request.target.metrics.answeredInstead(reason: answer.reason)
            if let ticket = answer.withdraw { _ = request.target.cancel(ticket: ticket) }
            request.upstream?.close()
            request.upstream = nil
            complete(request, status: answer.status, releasing: answer.release)
            guard request === self.request else { return }
            if !request.state.requestEnded, request.hasBody {
                // The client may still be sending a body we will never read in full: close after answering.
                connection.closeAfterThisResponse()
            }
            var extra: [(String, String)] = []
            if let seconds = answer.retryAfter { extra.append(("retry-after", "\(seconds)")) }
            writeSimpleResponse(version: request.head.version, status: HTTPResponseStatus(statusCode: answer.status), message: answer.message,
                                extraHeaders: extra, context: context, headRequest: request.head.method == .HEAD)
            endExchange(requestEnded: request.state.requestEnded, context: context)
        case .complete(let status, let endpoint, let poolConnection):
            if let capture = request.capture { settings.payloadLog?.offer(.response, from: capture) }
            if let upstream = request.upstream {
                request.upstream = nil
                // The pool keeps it only if the replica did not say it closes (`UpstreamConnection.reusable`).
                if poolConnection { pool.release(upstream) } else { upstream.close() }
            }
            complete(request, status: status, releasing: endpoint)
            context.flush()
            endExchange(requestEnded: request.state.requestEnded, context: context)
        case .abort(let status, let endpoint, let closeClient):
            request.upstream?.close()
            request.upstream = nil
            complete(request, status: status, releasing: endpoint)
            if request === self.request { self.request = nil }
            if closeClient {
                connection.closed()
                context.close(promise: nil)
            }
        }
    }

    /// Counts a finished request and gives its endpoint slot back.
    private func complete(_ request: ProxiedRequest, status: Int, releasing endpoint: EndpointAddress?) {
        if let endpoint { request.target.release(endpoint, proxied: request.proxied) }
        let seconds = Double((NIODeadline.now() - request.arrival).nanoseconds) / 1e9
        let metrics = request.target.metrics
        if let last = lastSeries, last.metrics === metrics, last.status == status {
            metrics.record(last.series, seconds: seconds)
        } else {
            let series = metrics.series(for: status)
            lastSeries = (metrics, status, series)
            metrics.record(series, seconds: seconds)
        }
    }

    /// The response is written (or being written): the connection state says what comes next.
    private func endExchange(requestEnded: Bool, context: ChannelHandlerContext) {
        request = nil
        perform(connection.exchangeEnded(requestEnded: requestEnded, now: NIODeadline.now().uptimeNanoseconds), context: context)
    }

    /// Does what the connection's state machine asked.
    private func perform(_ action: ClientConnectionState.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            // Dropping an answered body: keep reading it.
            resumeReadsIfHeld()
        case .nextRequest:
            replayPipelined(context: context)
            markIdle(connection.isIdle)
            resumeReadsIfHeld()
        case .closeAfterFlush:
            pipelined.removeAll()
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { [self] _ in
                perform(connection.flushed(), context: context)
            }
            // A body we answered early is still read and dropped while our answer goes out.
            resumeReadsIfHeld()
        case .halfCloseAndLinger:
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
        case .closeNow:
            context.close(promise: nil)
        case .recheck(let uptime):
            wake(at: uptime, context: context)
        case .closeIdle:
            settings.timeouts.keepAlive.increment()
            context.close(promise: nil)
        case .headTimedOut:
            settings.timeouts.head.increment()
            writeSimpleResponse(version: .http1_1, status: .requestTimeout,
                                message: "the request head did not arrive within \(settings.headTimeout.nanoseconds / 1_000_000_000) s",
                                extraHeaders: [], context: context)
            perform(.closeAfterFlush, context: context)
        case .bodyTimedOut:
            settings.timeouts.body.increment()
            guard let request else {
                context.close(promise: nil)
                return
            }
            // Answered 408 when no response has started; the rest of the body is dropped for a short linger.
            perform(request, request.state.requestFailed(status: 408,
                                                         message: "the request body paused for more than \(settings.bodyTimeout.nanoseconds / 1_000_000_000) s"),
                    context: context)
        }
    }

    /// Hands held pipelined parts on in order, until a head has to wait for the exchange it follows.
    private func replayPipelined(context: ChannelHandlerContext) {
        guard !replaying else { return }
        replaying = true
        defer { replaying = false }
        while let part = pipelined.first, !(part.isHead && connection.isServing), !connection.isClosing {
            pipelined.removeFirst()
            handle(part, context: context)
        }
    }

    /// Whether this connection can carry another request after `head`. Not after CONNECT or an
    /// upgrade request (NIO's parser stops reading there), nor after an HTTP/1.0 request with
    /// Transfer-Encoding, whose framing cannot be trusted.
    private static func connectionContinues(after head: HTTPRequestHead) -> Bool {
        head.isKeepAlive && head.method != .CONNECT && !head.headers.contains(name: "upgrade")
            && !(head.version.minor == 0 && head.headers.contains(name: "transfer-encoding"))
    }

    /// Answers before any target is involved (no route, or a request refused outright); the rest
    /// of the request is dropped.
    private func respondEarly(head: HTTPRequestHead, status: HTTPResponseStatus, message: String, context: ChannelHandlerContext) {
        writeSimpleResponse(version: head.version, status: status, message: message, extraHeaders: [], context: context,
                            headRequest: head.method == .HEAD)
        endExchange(requestEnded: false, context: context)
    }

    private func writeSimpleResponse(version: HTTPVersion, status: HTTPResponseStatus, message: String,
                                     extraHeaders: [(String, String)], context: ChannelHandlerContext, headRequest: Bool = false) {
        let body = message + "\n"
        var out = ByteBuffer()
        out.writeString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeString("\(status.code) \(status.reasonPhrase)\r\n")
        out.writeString("content-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n")
        for (name, value) in extraHeaders { out.writeString("\(name): \(value)\r\n") }
        if connection.closeAfterResponse {
            out.writeStaticString("connection: close\r\n")
        } else if version.minor == 0 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if !headRequest { out.writeString(body) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}

extension HTTPMethod {
    /// Methods that may be sent twice without a different effect (RFC 9110 §9.2.2).
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: true
        default: false
        }
    }
}

extension HTTPServerRequestPart {
    var isHead: Bool {
        if case .head = self { return true }
        return false
    }
}

/// One request through the activator: what it asked, what is held for it, the replica connection
/// it uses, and its state machine.
final class ProxiedRequest {
    let head: HTTPRequestHead
    let target: TargetRuntime
    let arrival: NIODeadline
    /// Arrival plus the target's timeout: the request is answered 504 (or cut off) after this.
    let deadline: NIODeadline
    var state: ProxiedRequestState
    var queuedAt: NIODeadline?
    var upstream: UpstreamConnection?
    let writer: RequestWriter
    var held: [HeldPart] = []
    var heldBytes = 0
    var needsUpstreamFlush = false
    /// It came through an activator (a sidecar tells the autoscaler, which subtracts it).
    var proxied = false
    /// Its bodies, kept for the payload logger; nil when nothing is logged.
    var capture: PayloadCapture?
    /// The mirror target drawn for a copy of this request, and its body so far.
    var mirror: (target: TargetRuntime, body: BoundedBody)?

    init(head: HTTPRequestHead, target: TargetRuntime, arrival: NIODeadline, timeout: TimeAmount) {
        self.head = head
        self.target = target
        self.arrival = arrival
        deadline = arrival + timeout
        state = ProxiedRequestState(target: target.name, timeoutSeconds: Double(timeout.nanoseconds) / 1e9,
                                    idempotent: head.method.isIdempotent)
        writer = RequestWriter(for: head)
    }

    /// The request carries a body (chunked, or a Content-Length above 0); such a request is never
    /// sent to a replica twice. Read only when a forward fails, so not worked out per request.
    var hasBody: Bool {
        writer.chunked || (head.headers.first(name: "content-length").map { $0 != "0" } ?? false)
    }

    enum HeldPart {
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    /// Keeps a piece of body while the request waits. A piece is a slice of the socket's read
    /// buffer, which is sized for the fastest reads (kilobytes): a small piece is copied out, so
    /// ten thousand waiting requests hold their bodies and not ten thousand read buffers.
    func hold(_ body: ByteBuffer) {
        heldBytes += body.readableBytes
        if body.capacity > 2 * body.readableBytes + 512 {
            var copy = ByteBufferAllocator().buffer(capacity: body.readableBytes)
            copy.writeImmutableBuffer(body)
            held.append(.body(copy))
        } else {
            held.append(.body(body))
        }
    }
}
