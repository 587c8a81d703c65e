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
final class DownstreamHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Request parts held while the request waits for an endpoint; reading pauses past this.
    static let maxHeldBytes = 256 * 1024
    /// How long the rest of an unwanted request body is read and dropped before the connection closes.
    static let lingerTime: TimeAmount = .seconds(5)

    private let directory: RouteDirectory
    private let pool: UpstreamPool
    private let settings: DownstreamSettings
    private let isSidecar: Bool
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var clientIP: String?

    /// The request in progress; nil between requests.
    private var request: ProxiedRequest?
    /// Dropping the rest of a request body we already answered.
    private var discardingBody = false
    private var closeAfterResponse = false
    private var readPending = false
    /// A close is under way; nothing more is answered on this connection.
    private var closing = false
    /// Everything written before the close reached the socket.
    private var outputFlushed = false
    /// The client finished while our answer was still being written: close fully once it is out.
    private var closeWhenFlushed = false
    private var timer: Scheduled<Void>?
    private var routes = RouteDirectory.Cache()
    /// The metric series of the last finished request; most requests on a connection share it.
    private var lastSeries: (metrics: TargetMetrics, status: Int, series: TargetMetrics.StatusSeries)?
    /// Parts of requests that arrived while another was being answered, in order.
    private var pipelined: [HTTPServerRequestPart] = []
    private var timerDeadline: NIODeadline?

    /// The connection's one timer for slow clients (a head, a body, an idle keep-alive). It is not
    /// moved per request: when it fires it looks at these and either acts or re-arms, so busy
    /// keep-alive traffic costs one clock read per socket read and no timer work.
    private var slowClientTimer: Scheduled<Void>?
    /// Since when a request head is awaited with bytes of it (or the connection) already there.
    private var headSince: NIODeadline?
    /// Since when the connection has idled between requests, with nothing of the next one read.
    private var idleSince: NIODeadline?
    /// The last socket read from the client.
    private var lastRead = NIODeadline.now()

    /// This connection's idle mark for the connection cap, and whether it says idle now.
    private let mark: ClientConnections.Mark
    private var markedIdle = false

    init(directory: RouteDirectory, pool: UpstreamPool, settings: DownstreamSettings, mark: ClientConnections.Mark, logger: Logger) {
        self.directory = directory
        self.mark = mark
        self.pool = pool
        self.settings = settings
        isSidecar = settings.role.isSidecar
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = context.channel.remoteAddress?.ipAddress
        // As nginx's client_header_timeout: the head must arrive within the limit of the connection.
        // A new connection that has sent nothing counts as idle for the connection cap.
        headSince = lastRead
        markIdle(true)
        armSlowClientTimer(at: lastRead + settings.headTimeout, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // A pipelined request (sent before our answer to the previous one): hold it, and stop
        // reading, until the current exchange ends. Handled here rather than by NIO's pipelining
        // handler, which pauses socket reads around every response and costs two epoll calls each.
        if !pipelined.isEmpty || (request != nil || discardingBody) && part.isHead {
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
            guard let request, !discardingBody else { return }
            if let upstream = request.upstream {
                request.writer.body(body, into: upstream.write)
                request.needsUpstreamFlush = true
            } else {
                request.held.append(.body(body))
                request.heldBytes += body.readableBytes
            }
        case .end(let trailers):
            if discardingBody {
                discardingBody = false
                if closing {
                    // The client ended its body: close now if our answer is out, else when it is.
                    if outputFlushed { context.close(promise: nil) } else { closeWhenFlushed = true }
                } else if request == nil {
                    finishExchange(context: context)
                }
                return
            }
            guard let request else { return }
            request.requestEnded = true
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
        lastRead = .now()
        if idleSince != nil, request == nil, !discardingBody {
            // Bytes of the next request's head: from now on it has the head timeout to finish.
            idleSince = nil
            headSince = lastRead
            markIdle(false)
        }
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
        guard let request, !discardingBody else { return false }
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
        slowClientTimer?.cancel()
        slowClientTimer = nil
        if let request { abandon(request) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request we cannot parse gets 400 when no response has started; the connection then
        // closes, since the stream can no longer be framed. (This replaces NIO's protocol error
        // handler, one handler fewer on every read and write.)
        if error is HTTPParserError, request == nil, !discardingBody, pipelined.isEmpty, !closing {
            closeAfterResponse = true
            writeSimpleResponse(version: .http1_1, status: .badRequest, message: "malformed HTTP request: \(error)",
                                extraHeaders: [], context: context)
        } else if error is HTTPParserError, let request, request.responseStatus == nil, !closing {
            // The body broke its framing (a bad chunk size) after the head went to a replica: abort
            // the replica's exchange, and tell the client why instead of just closing.
            abandon(request)
            closeAfterResponse = true
            writeSimpleResponse(version: request.head.version, status: .badRequest, message: "malformed request body: \(error)",
                                extraHeaders: [], context: context)
        } else if let request {
            abandon(request)
        }
        context.close(promise: nil)
    }

    // MARK: Routing and admission

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        headSince = nil
        idleSince = nil
        markIdle(false)
        if let refusal = RequestHeadCheck.refusal(for: head) {
            // Before routing: an ambiguous or oversized head is refused whatever it names.
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
        let timeout = target.timeout
        let request = ProxiedRequest(head: head, target: target, arrival: now, timeout: timeout)
        self.request = request
        closeAfterResponse = !Self.connectionContinues(after: head)
        armTimer(for: now + timeout, context: context)
        let eventLoop = context.eventLoop
        request.proxied = isSidecar && head.headers.contains(name: ProxyHeaders.proxiedBy)
        admit(request, target.admit(proxied: request.proxied) { self.waiter(for: request, on: eventLoop) })
    }

    /// One timer per connection, not per request: it is re-armed only when it would fire too late,
    /// and when it fires early it just moves to the current request's deadline. Keep-alive traffic
    /// then costs no timer work at all per request.
    private func armTimer(for deadline: NIODeadline, context: ChannelHandlerContext) {
        if timer != nil, let armed = timerDeadline, armed <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            guard let request, !request.finished, let context = self.context else { return }
            if NIODeadline.now() >= request.deadline {
                timedOut(request)
            } else {
                armTimer(for: request.deadline, context: context)
            }
        }
    }

    // MARK: Slow clients

    /// Tells the connection cap whether this connection may give way; one atomic store per change.
    private func markIdle(_ idle: Bool) {
        guard idle != markedIdle else { return }
        markedIdle = idle
        if idle { mark.idle() } else { mark.busy() }
    }

    private func armSlowClientTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        slowClientTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            slowClientTimer = nil
            checkSlowClient()
        }
    }

    /// Closes the connection of a client that is too slow, or looks again when it could next be.
    private func checkSlowClient() {
        guard let context, !closing else { return }
        let now = NIODeadline.now()
        if let idleSince, request == nil, !discardingBody {
            guard now - idleSince >= settings.keepAliveTimeout else {
                return armSlowClientTimer(at: idleSince + settings.keepAliveTimeout, context: context)
            }
            settings.timeouts.keepAlive.increment()
            context.close(promise: nil)
        } else if let headSince, request == nil, !discardingBody {
            guard now - headSince >= settings.headTimeout else {
                return armSlowClientTimer(at: headSince + settings.headTimeout, context: context)
            }
            settings.timeouts.head.increment()
            closeAfterResponse = true
            writeSimpleResponse(version: .http1_1, status: .requestTimeout,
                                message: "the request head did not arrive within \(settings.headTimeout.nanoseconds / 1_000_000_000) s",
                                extraHeaders: [], context: context)
            closeAfterWrites(context: context, lingering: false)
        } else if let request, !request.requestEnded, !shouldHoldReads {
            // Reading its body, and not held back by us: the client itself has paused.
            guard now - lastRead >= settings.bodyTimeout else {
                return armSlowClientTimer(at: lastRead + settings.bodyTimeout, context: context)
            }
            settings.timeouts.body.increment()
            if request.responseStatus == nil {
                // `fail` answers, drops the rest of the body and closes after a short linger.
                fail(request, status: .requestTimeout,
                     message: "the request body paused for more than \(settings.bodyTimeout.nanoseconds / 1_000_000_000) s",
                     releasing: request.endpoint)
            } else {
                abandon(request)
                context.close(promise: nil)
            }
        } else {
            // Busy: a request is being answered, or its body is held back by us. Look again later.
            armSlowClientTimer(at: now + min(settings.bodyTimeout, settings.keepAliveTimeout, settings.headTimeout), context: context)
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

    private func admit(_ request: ProxiedRequest, _ admission: TargetBalancer<WaitingRequest>.Admission) {
        switch admission {
        case .forward(let endpoint):
            connect(request, to: endpoint)
        case .queued(let ticket, let poked):
            request.ticket = ticket
            if request.queuedAt == nil { request.queuedAt = NIODeadline.now() }
            if poked { request.target.metrics.pokes.increment() }
        case .rejected(let rejection):
            fail(request, rejection, releasing: nil)
        }
    }

    /// A queued request was given an endpoint (or turned away) by another thread.
    private func dispatched(_ request: ProxiedRequest, _ result: Result<EndpointAddress, Rejection>) {
        guard request === self.request, !request.finished else {
            if case .success(let endpoint) = result { request.target.release(endpoint, proxied: request.proxied) }
            return
        }
        request.ticket = nil
        if request.expired {
            if case .success(let endpoint) = result { request.target.release(endpoint, proxied: request.proxied) }
            fail(request, .timedOut(target: request.target.name, seconds: Double(request.timeout.nanoseconds) / 1e9, queued: true),
                 releasing: nil)
            return
        }
        switch result {
        case .success(let endpoint):
            connect(request, to: endpoint)
        case .failure(let rejection):
            fail(request, rejection, releasing: nil)
        }
    }

    // MARK: Forwarding

    private func connect(_ request: ProxiedRequest, to endpoint: EndpointAddress, freshOnly: Bool = false) {
        request.endpoint = endpoint
        if let queuedAt = request.queuedAt {
            request.target.metrics.buffered.record(Double((NIODeadline.now() - queuedAt).nanoseconds) / 1e9)
            request.queuedAt = nil
        }
        if !freshOnly, let connection = pool.idleConnection(to: endpoint) {
            forward(request, over: connection, reused: true)
            return
        }
        pool.connect(to: endpoint).whenComplete { [self] result in
            guard request === self.request, !request.finished else {
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                forward(request, over: connection, reused: false)
            case .failure(let error):
                logger.debug("cannot reach endpoint", metadata: ["target": "\(request.target.name)", "endpoint": "\(endpoint)", "error": "\(error)"])
                request.target.metrics.retries.increment()
                request.endpoint = nil
                let eventLoop = context?.eventLoop ?? pool.eventLoop
                admit(request, request.target.reroute(waiter(for: request, on: eventLoop), proxied: request.proxied, from: endpoint))
            }
        }
    }

    private func forward(_ request: ProxiedRequest, over upstream: UpstreamConnection, reused: Bool) {
        guard let context else { return }
        request.upstream = upstream
        request.onReusedConnection = reused
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
        if expectsContinue, !request.requestEnded {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
        }
        resumeReadsIfHeld()
    }

    func upstreamHead(_ head: ResponseScanner.Head) {
        guard let request, let context else { return }
        request.responseStatus = head.status
        let clientMinor = request.head.version.minor == 0 ? 0 : 1
        // A body that ends only when the replica closes can end the client's response only by closing too.
        if head.delimitedByClose { closeAfterResponse = true }
        if !request.requestEnded { closeAfterResponse = true }
        if !head.hasHopByHop, !closeAfterResponse, head.minorVersion == clientMinor, clientMinor == 1 {
            context.write(wrapOutboundOut(head.raw), promise: nil)
        } else {
            context.write(wrapOutboundOut(ResponseScanner.rewrittenHead(head.raw, minorVersion: clientMinor, close: closeAfterResponse,
                                                                        chunked: head.chunked)), promise: nil)
        }
    }

    func upstreamBody(_ body: ByteBuffer) {
        context?.write(wrapOutboundOut(body), promise: nil)
    }

    func upstreamEnd() {
        guard let request, let context else { return }
        let upstream = request.upstream
        request.upstream = nil
        if let upstream {
            // The pool keeps it only if the replica did not say it closes (`UpstreamConnection.reusable`).
            if request.requestEnded { pool.release(upstream) } else { upstream.close() }
        }
        complete(request, status: request.responseStatus)
        context.flush()
        if !request.requestEnded { discardingBody = true }
        finishExchange(context: context)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReadsIfHeld() }
    }

    func upstreamFailed(_ error: any Error) {
        guard let request, let context else { return }
        request.upstream = nil
        if request.responseStatus == nil, request.onReusedConnection, !request.hasBody, !request.retriedStale,
           request.head.method.isIdempotent, let endpoint = request.endpoint {
            // A kept-alive connection the replica closed while it idled (its keep-alive limit is
            // shorter than ours): nothing of this bodiless request was processed, so send it once
            // more on a fresh connection.
            request.retriedStale = true
            connect(request, to: endpoint, freshOnly: true)
            return
        }
        let endpoint = request.endpoint.map { "\($0)" } ?? "?"
        if request.responseStatus == nil {
            fail(request, status: .badGateway,
                 message: "target \(request.target.name): replica \(endpoint) failed before completing its response (\(error))",
                 releasing: request.endpoint)
        } else {
            logger.info("replica failed mid-response; closing the client connection", metadata: [
                "target": "\(request.target.name)", "endpoint": "\(endpoint)", "error": "\(error)"])
            complete(request, status: request.responseStatus ?? 502)
            self.request = nil
            context.close(promise: nil)
        }
    }

    // MARK: Endings

    private func timedOut(_ request: ProxiedRequest) {
        guard request === self.request, !request.finished, let context else { return }
        let seconds = Double(request.timeout.nanoseconds) / 1e9
        if let ticket = request.ticket {
            guard request.target.cancel(ticket: ticket) != nil else {
                // An endpoint was just given to it; `dispatched` answers 504 instead of forwarding.
                request.expired = true
                return
            }
            request.ticket = nil
            fail(request, .timedOut(target: request.target.name, seconds: seconds, queued: true), releasing: nil)
        } else if request.responseStatus == nil {
            request.upstream?.close()
            request.upstream = nil
            fail(request, .timedOut(target: request.target.name, seconds: seconds, queued: request.endpoint == nil), releasing: request.endpoint)
        } else {
            request.upstream?.close()
            request.upstream = nil
            complete(request, status: request.responseStatus ?? 504)
            self.request = nil
            context.close(promise: nil)
        }
    }

    private func fail(_ request: ProxiedRequest, _ rejection: Rejection, releasing endpoint: EndpointAddress?) {
        var extra: [(String, String)] = []
        if case .queueFull = rejection { extra.append(("retry-after", "1")) }
        if case .targetFailed = rejection { extra.append(("retry-after", "5")) }
        fail(request, status: HTTPResponseStatus(statusCode: rejection.status), message: rejection.description,
             releasing: endpoint, extraHeaders: extra)
    }

    /// Answers a request the activator could not forward, and gives back its endpoint slot if it had one.
    private func fail(_ request: ProxiedRequest, status: HTTPResponseStatus, message: String,
                      releasing endpoint: EndpointAddress?, extraHeaders: [(String, String)] = []) {
        guard let context else { return }
        request.upstream?.close()
        request.upstream = nil
        complete(request, status: Int(status.code), releasing: endpoint)
        if !request.requestEnded, request.hasBody {
            discardingBody = true
            // The client may still be sending a body we will never read in full: close after answering.
            closeAfterResponse = true
        }
        writeSimpleResponse(version: request.head.version, status: status, message: message, extraHeaders: extraHeaders, context: context,
                            headRequest: request.head.method == .HEAD)
        finishExchange(context: context)
    }

    /// Whether this connection can carry another request after `head`. Not after CONNECT or an
    /// upgrade request (NIO's parser stops reading there), nor after an HTTP/1.0 request with
    /// Transfer-Encoding, whose framing cannot be trusted.
    private static func connectionContinues(after head: HTTPRequestHead) -> Bool {
        head.isKeepAlive && head.method != .CONNECT && !head.headers.contains(name: "upgrade")
            && !(head.version.minor == 0 && head.headers.contains(name: "transfer-encoding"))
    }

    /// Answers before any target is involved (no route, or a request refused outright).
    private func respondEarly(head: HTTPRequestHead, status: HTTPResponseStatus, message: String, context: ChannelHandlerContext) {
        closeAfterResponse = !Self.connectionContinues(after: head)
        discardingBody = true
        writeSimpleResponse(version: head.version, status: status, message: message, extraHeaders: [], context: context,
                            headRequest: head.method == .HEAD)
    }

    private func writeSimpleResponse(version: HTTPVersion, status: HTTPResponseStatus, message: String,
                                     extraHeaders: [(String, String)], context: ChannelHandlerContext, headRequest: Bool = false) {
        let body = message + "\n"
        var out = ByteBuffer()
        out.writeString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeString("\(status.code) \(status.reasonPhrase)\r\n")
        out.writeString("content-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n")
        for (name, value) in extraHeaders { out.writeString("\(name): \(value)\r\n") }
        if closeAfterResponse {
            out.writeStaticString("connection: close\r\n")
        } else if version.minor == 0 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if !headRequest { out.writeString(body) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    /// Marks a request finished: counts it, cancels its deadline, frees its endpoint slot.
    private func complete(_ request: ProxiedRequest, status: Int?, releasing endpoint: EndpointAddress? = nil) {
        guard !request.finished else { return }
        request.finished = true
        if let endpoint = endpoint ?? request.endpoint { request.target.release(endpoint, proxied: request.proxied) }
        request.endpoint = nil
        let seconds = Double((NIODeadline.now() - request.arrival).nanoseconds) / 1e9
        let code = status ?? 0
        let metrics = request.target.metrics
        if let last = lastSeries, last.metrics === metrics, last.status == code {
            metrics.record(last.series, seconds: seconds)
        } else {
            let series = metrics.series(for: code)
            lastSeries = (metrics, code, series)
            metrics.record(series, seconds: seconds)
        }
    }

    /// After a response ended: ready for the next request, or close.
    private func finishExchange(context: ChannelHandlerContext) {
        request = nil
        if discardingBody {
            // The answer went out before the request body was read in full. Keep reading (and
            // dropping) it, so the client is not reset before it reads the answer, but stop
            // sending, and give up after a short linger.
            if closeAfterResponse { closeAfterWrites(context: context, lingering: true) }
            resumeReadsIfHeld()
            return
        }
        if closeAfterResponse {
            pipelined.removeAll()
            closeAfterWrites(context: context, lingering: false)
            return
        }
        // Replay held pipelined parts until one of them starts a request that has to wait.
        while !pipelined.isEmpty, request == nil, !discardingBody {
            handle(pipelined.removeFirst(), context: context)
        }
        while !pipelined.isEmpty, !pipelined[0].isHead {
            handle(pipelined.removeFirst(), context: context)
        }
        if request == nil, !discardingBody {
            idleSince = .now()
            markIdle(true)
        }
        resumeReadsIfHeld()
    }

    /// Closes once everything written so far has reached the socket: a close straight after a
    /// write would drop what is still queued. With `lingering`, only the sending side closes now,
    /// and the connection closes when the client ends its body or after `lingerTime`.
    private func closeAfterWrites(context: ChannelHandlerContext, lingering: Bool) {
        guard !closing else { return }
        closing = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in
            outputFlushed = true
            if lingering, !closeWhenFlushed {
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// The client went away: take the request out of the queue or off its replica.
    private func abandon(_ request: ProxiedRequest) {
        guard !request.finished else { return }
        if let ticket = request.ticket, request.target.cancel(ticket: ticket) != nil {
            request.ticket = nil
            request.finished = true
            request.target.metrics.finished(status: 499, seconds: Double((NIODeadline.now() - request.arrival).nanoseconds) / 1e9)
        } else if request.ticket == nil {
            request.upstream?.close()
            request.upstream = nil
            complete(request, status: 499)
        }
        // A request whose wake-up is already on its way is finished in `dispatched`.
        self.request = nil
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

/// One request through the activator: what it asked, where it is, and what is held for it.
final class ProxiedRequest {
    let head: HTTPRequestHead
    let target: TargetRuntime
    let arrival: NIODeadline
    let timeout: TimeAmount
    /// Arrival plus the target's timeout: the request is answered 504 (or cut off) after this.
    let deadline: NIODeadline
    var queuedAt: NIODeadline?
    var ticket: UInt64?
    var endpoint: EndpointAddress?
    var upstream: UpstreamConnection?
    let writer: RequestWriter
    var held: [HeldPart] = []
    var heldBytes = 0
    var requestEnded = false
    var needsUpstreamFlush = false
    var responseStatus: Int?
    var finished = false
    /// The timeout fired while an endpoint was being handed to the request.
    var expired = false
    var onReusedConnection = false
    var retriedStale = false
    /// It came through an activator (a sidecar tells the autoscaler, which subtracts it).
    var proxied = false

    init(head: HTTPRequestHead, target: TargetRuntime, arrival: NIODeadline, timeout: TimeAmount) {
        self.head = head
        self.target = target
        self.arrival = arrival
        self.timeout = timeout
        self.deadline = arrival + timeout
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
}
