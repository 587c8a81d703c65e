import ActivatorCore
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import ThawVocabulary
import TrafficStats

/// Serves one HTTP/2 stream of a client connection (a gRPC call, or any HTTP/2 request) as
/// `DownstreamHandler` serves an HTTP/1.1 request: routed, admitted by the target's balancer (a
/// stream counts against `containerConcurrency` like a request), held while the target has no
/// ready replica, then relayed frame by frame to a stream on a pooled HTTP/2 connection.
///
/// The decisions are `ProxiedRequestState`'s, the same machine the HTTP/1.1 path feeds; this
/// handler performs its actions in HTTP/2's terms: its own answers are gRPC statuses in trailers
/// for a gRPC call, a status and text for anything else, and a call cut off mid-response ends with
/// trailers (gRPC) or RST_STREAM. Reads stop on whichever side is ahead, so each stream's
/// flow-control window closes on the sender instead of frames piling up here.
final class StreamProxyHandler: ChannelDuplexHandler, UpstreamStreamDelegate {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// HTTP/2 header names are lowercase (RFC 9113 §8.2.1).
    static let probeHeader = ProxyHeaders.probe.lowercased()
    static let proxiedByHeader = ProxyHeaders.proxiedBy.lowercased()

    private let directory: RouteDirectory
    private let pool: UpstreamHTTP2Pool
    private let settings: DownstreamSettings
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var call: ProxiedCall?
    /// Set by the stream's first HEADERS: any later one (trailers) never starts a call.
    private var started = false
    private var readPending = false
    private var routes = RouteDirectory.Cache()
    private var deadlineTimer: Scheduled<Void>?
    private var clientIP: String?

    init(directory: RouteDirectory, pool: UpstreamHTTP2Pool, settings: DownstreamSettings, clientIP: String?, logger: Logger) {
        self.directory = directory
        self.pool = pool
        self.settings = settings
        self.clientIP = clientIP
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if !started {
                started = true
                start(frame, context: context)
            } else if let call {
                // Trailers from the client (a streaming call's end).
                call.relayOrHold(.headers(frame))
                if frame.endStream { call.state.requestBodyEnded() }
            }
        case .data(let frame):
            guard let call else { return }
            call.relayOrHold(.data(frame))
            if frame.endStream { call.state.requestBodyEnded() }
        case .rstStream:
            // The client cancelled; the stream closes next (`channelInactive`).
            break
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let call, call.needsFlush, let upstream = call.upstream {
            call.needsFlush = false
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if shouldHoldReads { readPending = true } else { context.read() }
    }

    private var shouldHoldReads: Bool {
        guard let call else { return false }
        if let upstream = call.upstream { return !upstream.isWritable }
        return call.heldBytes >= DownstreamHandler.maxHeldBytes
    }

    private func resumeReadsIfHeld() {
        guard readPending, !shouldHoldReads, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let upstream = call?.upstream {
            if context.channel.isWritable { upstream.resumeReads() } else { upstream.pauseReads() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlineTimer?.cancel()
        if let call { clientLeft(call) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let call { clientLeft(call) }
        context.close(promise: nil)
    }

    // MARK: Routing and admission

    private func start(_ frame: HTTP2Frame.FramePayload.Headers, context: ChannelHandlerContext) {
        let headers = frame.headers
        let isGRPC = GRPCCall.isGRPC(contentType: headers.first(name: "content-type"))
        let path = headers.first(name: ":path") ?? "/"
        let host = settings.fixedHost ?? headers.first(name: ":authority") ?? headers.first(name: "host") ?? ""
        guard let target = directory.resolve(host: host, path: path, cache: &routes) else {
            writeAnswer(status: 404, reason: "no_route",
                        message: "no target or service is routed for host \"\(host)\" and path \"\(path)\" on this activator",
                        isGRPC: isGRPC, retryAfter: nil, context: context)
            return
        }
        if settings.role.isSidecar, headers.contains(name: Self.probeHeader) {
            // A readiness probe, answered from this sidecar's own probe of its model server.
            answerProbe(ready: target.hasReadyEndpoint && !settings.draining.isOn, isGRPC: isGRPC, context: context)
            return
        }
        guard target.speaksHTTP2 else {
            writeAnswer(status: 505, reason: "no_route",
                        message: "target \(target.name) speaks HTTP/1.1 (its protocol is http1): send it HTTP/1.1 requests, or set protocol: h2c for gRPC model servers",
                        isGRPC: isGRPC, retryAfter: nil, context: context)
            return
        }
        // Never longer than the target's (at most a day), so it fits a TimeAmount.
        let duration = GRPCCall.callTimeout(target: .nanoseconds(target.timeout.nanoseconds), header: headers.first(name: "grpc-timeout"))
        let timeout = TimeAmount.nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        let call = ProxiedCall(head: forwardedHead(headers), target: target, isGRPC: isGRPC, arrival: NIODeadline.now(), timeout: timeout)
        call.proxied = settings.role.isSidecar && headers.contains(name: Self.proxiedByHeader)
        if frame.endStream { call.state.requestBodyEnded() }
        self.call = call
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: call.deadline) { [self] in
            deadlineTimer = nil
            timedOut(call)
        }
        let eventLoop = context.eventLoop
        admit(call, target.admit(proxied: call.proxied) { waiter(for: call, on: eventLoop) })
    }

    /// The request head as the replica gets it: pseudo-headers and the rest as the client sent
    /// them, less `Thaw-*` headers only Thaw may set, plus this hop's marks.
    private func forwardedHead(_ headers: HPACKHeaders) -> HPACKHeaders {
        var out = HPACKHeaders()
        out.reserveCapacity(headers.count + 2)
        var forwardedFor: String?
        for (name, value, indexing) in headers {
            switch name {
            case Self.probeHeader, Self.proxiedByHeader: continue
            case "x-forwarded-for": forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
            default: out.add(name: name, value: value, indexing: indexing)
            }
        }
        if let clientIP { out.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(clientIP)" } ?? clientIP) }
        if !settings.role.isSidecar { out.add(name: Self.proxiedByHeader, value: ProxyHeaders.activator) }
        return out
    }

    private func waiter(for call: ProxiedCall, on eventLoop: any EventLoop) -> WaitingRequest {
        let bound = NIOLoopBound((self, call), eventLoop: eventLoop)
        return WaitingRequest { result in
            eventLoop.execute {
                let (handler, call) = bound.value
                handler.dispatched(call, result)
            }
        }
    }

    private func admit(_ call: ProxiedCall, _ admission: TargetBalancer<WaitingRequest>.Admission) {
        if case .queued(_, let poked) = admission {
            if call.queuedAt == nil { call.queuedAt = NIODeadline.now() }
            if poked { call.target.metrics.pokes.increment() }
        }
        perform(call, call.state.admitted(admission))
    }

    private func dispatched(_ call: ProxiedCall, _ result: Result<EndpointAddress, Rejection>) {
        guard context != nil, call === self.call else {
            if case .success(let endpoint) = result { call.target.release(endpoint, proxied: call.proxied) }
            return
        }
        perform(call, call.state.dispatched(result))
    }

    // MARK: Forwarding

    private func connect(_ call: ProxiedCall, to endpoint: EndpointAddress, fresh: Bool) {
        if let queuedAt = call.queuedAt {
            call.target.metrics.buffered.record(Double((NIODeadline.now() - queuedAt).nanoseconds) / 1e9)
            call.queuedAt = nil
        }
        pool.openStream(to: endpoint, fresh: fresh, delegate: self) { [self] result in
            guard call === self.call, call.state.phase == .connecting(endpoint), context != nil else {
                if case .success(let stream) = result { stream.cancel() }
                return
            }
            switch result {
            case .success(let stream):
                forward(call, over: stream)
            case .failure(let error):
                logger.debug("cannot open a stream to the endpoint", metadata: [
                    "target": "\(call.target.name)", "endpoint": "\(endpoint)", "error": "\(error)"])
                perform(call, call.state.connectFailed())
            }
        }
    }

    private func forward(_ call: ProxiedCall, over stream: UpstreamStream) {
        guard call.state.connected(reused: false), let context else {
            stream.cancel()
            return
        }
        call.upstream = stream
        if context.channel.isWritable { stream.resumeReads() } else { stream.pauseReads() }
        stream.write(.headers(.init(headers: call.head, endStream: call.held.isEmpty && call.state.requestEnded)))
        for part in call.held { stream.write(part) }
        // Kept until the response starts, so a refused stream can go elsewhere whole.
        call.sent = call.held
        call.sentBytes = call.heldBytes
        call.held.removeAll()
        call.heldBytes = 0
        stream.flush()
        resumeReadsIfHeld()
    }

    func upstreamFrame(_ payload: HTTP2Frame.FramePayload) {
        guard let call, let context else { return }
        var ended = false
        switch payload {
        case .headers(let frame):
            if call.state.responseStatus == nil {
                let status = frame.headers.first(name: ":status").flatMap { Int($0) } ?? 200
                // An informational response (103 Early Hints) is relayed; the final one follows.
                if !(100..<200).contains(status) { call.state.responseHead(status: status) }
            }
            ended = frame.endStream
        case .data(let frame):
            ended = frame.endStream
        default:
            return
        }
        call.responseStarted = true
        call.sent = nil
        context.write(wrapOutboundOut(payload), promise: nil)
        if ended {
            call.trailersSent = true
            perform(call, call.state.responseEnded())
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReadsIfHeld() }
    }

    func upstreamClosed(reset: HTTP2ErrorCode?, refusedByGoAway: Bool) {
        guard let call, call.upstream != nil else { return }
        call.upstream = nil
        if reset == .refusedStream || refusedByGoAway, call.state.responseStatus == nil, let sent = call.sent {
            // RFC 9113 §8.7: a refused stream (or one above a GOAWAY's last stream) was not
            // processed, so it may go elsewhere, with every frame it had sent.
            call.held = sent
            call.heldBytes = call.sentBytes
            call.sent = []
            call.sentBytes = 0
            perform(call, call.state.replicaRefusedStream())
            return
        }
        let reason = reset.map { "the replica reset the stream (\($0))" } ?? "the replica's connection closed"
        if call.state.responseStatus != nil, call.isGRPC, !call.trailersSent {
            // Mid-response: a gRPC client is told in trailers, which it reads as the call's status.
            endWithTrailers(call, GRPCCall.trailers(.unavailable, message: "target \(call.target.name): \(reason) mid-response"))
        }
        perform(call, call.state.replicaFailed(reason, hasBody: true))
    }

    // MARK: Endings

    private func timedOut(_ call: ProxiedCall) {
        guard call === self.call else { return }
        let action = call.state.deadlinePassed()
        if case .withdraw(let ticket) = action {
            let dequeued = call.target.cancel(ticket: ticket) != nil
            perform(call, call.state.withdrawnAfterDeadline(dequeued: dequeued))
            return
        }
        if case .abort = action, call.isGRPC, !call.trailersSent {
            endWithTrailers(call, GRPCCall.trailers(.deadlineExceeded,
                                                   message: "target \(call.target.name): the call did not finish within its deadline"))
        }
        perform(call, action)
    }

    private func clientLeft(_ call: ProxiedCall) {
        let action = call.state.clientLeft()
        self.call = nil
        deadlineTimer?.cancel()
        switch action {
        case .withdraw(let ticket):
            if call.target.cancel(ticket: ticket) != nil {
                call.target.metrics.finished(status: 499, seconds: Double((NIODeadline.now() - call.arrival).nanoseconds) / 1e9)
            }
        case .abort(let status, let endpoint, _):
            call.upstream?.cancel()
            call.upstream = nil
            complete(call, status: status, releasing: endpoint)
        default:
            break
        }
    }

    private func perform(_ call: ProxiedCall, _ action: ProxiedRequestState.Action) {
        switch action {
        case .none:
            break
        case .connect(let endpoint, let fresh):
            connect(call, to: endpoint, fresh: fresh)
        case .reroute(let endpoint):
            call.target.metrics.retries.increment()
            guard let context else { return }
            admit(call, call.target.reroute(waiter(for: call, on: context.eventLoop), proxied: call.proxied, from: endpoint))
        case .withdraw(let ticket):
            _ = call.target.cancel(ticket: ticket)
        case .release(let endpoint):
            call.target.release(endpoint, proxied: call.proxied)
        case .answer(let answer):
            call.target.metrics.answeredInstead(reason: answer.reason)
            if let ticket = answer.withdraw { _ = call.target.cancel(ticket: ticket) }
            call.upstream?.cancel()
            call.upstream = nil
            complete(call, status: answer.status, releasing: answer.release)
            guard call === self.call, let context else { return }
            if call.responseStarted {
                // Only trailers can still say something, and only to a gRPC client.
                if call.isGRPC, !call.trailersSent {
                    endWithTrailers(call, GRPCCall.trailers(GRPCCall.status(reason: answer.reason, httpStatus: answer.status), message: answer.message))
                } else {
                    context.close(promise: nil)
                }
            } else {
                writeAnswer(status: answer.status, reason: answer.reason, message: answer.message, isGRPC: call.isGRPC,
                            retryAfter: answer.retryAfter, context: context)
            }
            finished(call)
        case .complete(let status, let endpoint, _):
            // The replica answered before the client finished sending: its stream is reset, so it
            // does not stay half-open on the replica's connection (RFC 9113 §8.1).
            if !call.state.requestEnded { call.upstream?.cancel() }
            call.upstream = nil
            complete(call, status: status, releasing: endpoint)
            context?.flush()
            finished(call)
        case .abort(let status, let endpoint, let closeClient):
            call.upstream?.cancel()
            call.upstream = nil
            complete(call, status: status, releasing: endpoint)
            if closeClient, !call.trailersSent { context?.close(promise: nil) }
            finished(call)
        }
    }

    private func finished(_ call: ProxiedCall) {
        guard call === self.call else { return }
        self.call = nil
        deadlineTimer?.cancel()
        deadlineTimer = nil
        // Anything still arriving from the client belongs to a finished call: read and dropped.
        resumeReadsIfHeld()
    }

    private func complete(_ call: ProxiedCall, status: Int, releasing endpoint: EndpointAddress?) {
        if let endpoint { call.target.release(endpoint, proxied: call.proxied) }
        call.target.metrics.finished(status: status, seconds: Double((NIODeadline.now() - call.arrival).nanoseconds) / 1e9)
    }

    /// Ends a call whose response has started with gRPC trailers.
    private func endWithTrailers(_ call: ProxiedCall, _ trailers: [(String, String)]) {
        guard let context, !call.trailersSent else { return }
        call.trailersSent = true
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: HPACKHeaders(trailers), endStream: true))), promise: nil)
    }

    // MARK: Our own answers

    /// Answers a call ourselves: a gRPC call gets a trailers-only response (HTTP 200 with the
    /// status in `grpc-status`, as gRPC requires); anything else a status and a line of text.
    private func writeAnswer(status: Int, reason: String, message: String, isGRPC: Bool, retryAfter: Int?, context: ChannelHandlerContext) {
        if isGRPC {
            var headers: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
            for (name, value) in GRPCCall.trailers(GRPCCall.status(reason: reason, httpStatus: status), message: message) {
                headers.add(name: name, value: value)
            }
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
            return
        }
        let body = ByteBuffer(string: message + "\n")
        var headers: HPACKHeaders = [":status": String(status), "content-type": "text/plain; charset=utf-8",
                                     "content-length": String(body.readableBytes)]
        if let retryAfter { headers.add(name: "retry-after", value: String(retryAfter)) }
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))), promise: nil)
    }

    /// A sidecar's answer to a probe: for gRPC, an OK call whose message is `08 01` (Health's
    /// SERVING, KServe's ready), which `GRPCProbeCall.Response.isReady` accepts.
    private func answerProbe(ready: Bool, isGRPC: Bool, context: ChannelHandlerContext) {
        guard isGRPC else {
            writeAnswer(status: ready ? 200 : 503, reason: "", message: ready ? "ready" : "not ready: the model server has not passed its readiness check",
                        isGRPC: false, retryAfter: nil, context: context)
            return
        }
        guard ready else {
            writeAnswer(status: 503, reason: "target_failed", message: "not ready: the model server has not passed its readiness check",
                        isGRPC: true, retryAfter: nil, context: context)
            return
        }
        context.write(wrapOutboundOut(.headers(.init(headers: [":status": "200", "content-type": "application/grpc"]))), promise: nil)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08, 0x01]))))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: ["grpc-status": "0"], endStream: true))), promise: nil)
    }
}

/// One call through the activator over HTTP/2: what it asked, what is held for it, the replica
/// stream it uses, and its state machine.
final class ProxiedCall {
    let head: HPACKHeaders
    let target: TargetRuntime
    let isGRPC: Bool
    let arrival: NIODeadline
    let deadline: NIODeadline
    var state: ProxiedRequestState
    var queuedAt: NIODeadline?
    var upstream: UpstreamStream?
    /// Frames that came while the call waited for a replica.
    var held: [HTTP2Frame.FramePayload] = []
    var heldBytes = 0
    /// Every frame sent to the replica so far, while the response has not started and they fit in
    /// `DownstreamHandler.maxHeldBytes`; nil once that is no longer so (the call cannot be resent).
    var sent: [HTTP2Frame.FramePayload]? = []
    var sentBytes = 0
    var needsFlush = false
    var proxied = false
    var responseStarted = false
    var trailersSent = false

    init(head: HPACKHeaders, target: TargetRuntime, isGRPC: Bool, arrival: NIODeadline, timeout: TimeAmount) {
        self.head = head
        self.target = target
        self.isGRPC = isGRPC
        self.arrival = arrival
        deadline = arrival + timeout
        // A call with a body is never sent twice once it may have reached a replica; HTTP/2 has no
        // stale kept-alive connection to retry a bodiless one on, so idempotency does not matter.
        state = ProxiedRequestState(target: target.name, timeoutSeconds: Double(timeout.nanoseconds) / 1e9, idempotent: false)
    }

    func relayOrHold(_ payload: HTTP2Frame.FramePayload) {
        if let upstream {
            upstream.write(payload)
            needsFlush = true
            if sent != nil {
                if case .data(let frame) = payload { sentBytes += frame.data.readableBytes }
                if sentBytes <= DownstreamHandler.maxHeldBytes { sent!.append(payload) } else { sent = nil }
            }
        } else {
            if case .data(let frame) = payload { heldBytes += frame.data.readableBytes }
            held.append(payload)
        }
    }
}
