import ArgumentParser
import Foundation
import Synchronization
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// A small, fast HTTP backend with the behaviours the activator must cope with: a readiness path
/// that turns ready after a delay, echoing uploads without holding them, slow answers, and a process
/// that dies before or in the middle of a response. Tests and `make bench-activator` use it.
@main
struct EchoBackend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-backend",
        abstract: "A test and benchmark HTTP backend for Thaw.",
        discussion: """
            GET /anything           200 "Hello World!" (13 bytes)
            POST or PUT /anything   reads the body as it streams, answers {"bytes":N}
            /slow?ms=N              answers after N milliseconds
            /crash-before-response  exits at once, without answering
            /crash-mid-response     sends the head and 10 of 1000 body bytes, then exits
            /headers                the request's headers, one "name: value" per line
            /chunked?n=N            a chunked body: N chunks "chunk I\n" (default 3)
            /big?n=N                N bytes of "x" with a Content-Length, written 64 KiB at a time
            /early                  answers 413 at once, without reading the request body
            /unframed               a body with neither length nor chunking, ended by closing the connection
            /stats                  {"requests":N,"maxInFlight":M,"readyAt":T,"firstRequestAt":T,"lastRequestAt":T}
                                    (wall-clock seconds; /stats and the readiness path are not counted)
            --record FILE           appends one JSON line per request: method, path, body (for a fake autoscaler)
            READY-PATH              503 until --ready-after seconds have passed, then 200
            Every answer carries "x-backend: NAME". Prints "listening on PORT" when ready to accept.
            """
    )

    @Option var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port = 0
    @Option(help: "Name sent back in the x-backend header.") var name = "echo"
    @Option(name: .customLong("ready-path")) var readyPath = "/ready"
    @Option(name: .customLong("ready-after"), help: "Seconds until the readiness path answers 200.") var readyAfter = 0.0
    @Option(name: .customLong("ready-file"), help: "The readiness path answers 200 only once this file exists (tests decide when).")
    var readyFile: String?
    @Option(help: "Event-loop threads.") var threads = 1
    @Option(help: "Append every request (method, path, body) to this file as a JSON line.") var record: String?
    @Flag(help: "Speak HTTP/2 with prior knowledge as a gRPC server: every call is answered with its own request message and grpc-status 0; grpc.health.v1.Health/Check answers SERVING.")
    var h2c = false

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let readyAt = NIODeadline.now() + .milliseconds(Int64(readyAfter * 1000))
        let counters = Counters()
        let settings = Settings(name: name, readyPath: readyPath, readyAt: readyAt, readyFile: readyFile, record: record)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [h2c] channel in
                channel.eventLoop.makeCompletedFuture {
                    if h2c {
                        var connection = NIOHTTP2Handler.ConnectionConfiguration()
                        connection.initialSettings = [HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
                                                      HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20)]
                        var stream = NIOHTTP2Handler.StreamConfiguration()
                        stream.targetWindowSize = 1 << 20
                        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                            mode: .server, connectionConfiguration: connection, streamConfiguration: stream) { stream in
                            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(GRPCEchoHandler()) }
                        }
                        return
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(settings: settings, counters: counters))
                }
            }
            .bind(host: host, port: port).get()
        FileHandle.standardOutput.write(Data("listening on \(channel.localAddress?.port ?? 0)\n".utf8))
        try await channel.closeFuture.get()
    }
}

struct Settings: Sendable {
    var name: String
    var readyPath: String
    var readyAt: NIODeadline
    var readyFile: String?
    var record: String?

    var isReady: Bool {
        NIODeadline.now() >= readyAt && (readyFile.map { FileManager.default.fileExists(atPath: $0) } ?? true)
    }
}

final class Counters: Sendable {
    private struct State {
        var inFlight = 0, maxInFlight = 0, requests = 0
        var readyAt = 0.0, firstRequestAt = 0.0, lastRequestAt = 0.0
    }
    private let state = Mutex(State())
    private static func wallClock() -> Double { Date().timeIntervalSince1970 }

    func started() {
        let now = Self.wallClock()
        state.withLock {
            $0.inFlight += 1
            $0.requests += 1
            $0.maxInFlight = max($0.maxInFlight, $0.inFlight)
            if $0.firstRequestAt == 0 { $0.firstRequestAt = now }
            $0.lastRequestAt = now
        }
    }
    func finished() { state.withLock { $0.inFlight -= 1 } }
    func answeredReady() {
        let now = Self.wallClock()
        state.withLock { if $0.readyAt == 0 { $0.readyAt = now } }
    }
    var json: String {
        state.withLock {
            #"{"requests":\#($0.requests),"maxInFlight":\#($0.maxInFlight),"readyAt":\#($0.readyAt),"firstRequestAt":\#($0.firstRequestAt),"lastRequestAt":\#($0.lastRequestAt)}"#
        }
    }

    private let recordLock = Mutex(())
    func record(_ line: String, to path: String) {
        recordLock.withLock { _ in
            guard let handle = FileHandle(forWritingAtPath: path) ?? {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                return FileHandle(forWritingAtPath: path)
            }() else { return }
            handle.seekToEndOfFile()
            handle.write(Data((line + "\n").utf8))
            try? handle.close()
        }
    }
}

extension HTTPRequestHead {
    /// A whole-number query parameter (`/big?n=100`).
    func queryInt(_ name: String) -> Int? {
        let query = uri.split(separator: "?").dropFirst().first ?? ""
        return query.split(separator: "&").lazy.compactMap { $0.hasPrefix(name + "=") ? Int($0.dropFirst(name.count + 1)) : nil }.first
    }
}

extension EchoHandler {
    /// Answers without a Content-Length: chunked (HTTP/1.1) or ended by closing the connection.
    func streamUnsized(path: String, head: HTTPRequestHead, context: ChannelHandlerContext) {
        let count = head.queryInt("n") ?? 3
        // HTTP/1.0 framing is the only way to make NIO send a body with neither length nor chunking.
        var response = HTTPResponseHead(version: path == "/unframed" ? .http1_0 : head.version, status: .ok)
        response.headers.add(name: "x-backend", value: settings.name)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        for index in 0..<count {
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "chunk \(index)\n")))), promise: nil)
        }
        let counters = self.counters
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            counters.finished()
            if path == "/unframed" || !head.isKeepAlive { context.close(promise: nil) }
        }
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private static let hello = ByteBuffer(string: "Hello World!\n")

    let settings: Settings
    let counters: Counters
    private var head: HTTPRequestHead?
    private var bytes = 0
    private var counted = false
    private var recorded = ByteBuffer()

    init(settings: Settings, counters: Counters) {
        self.settings = settings
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bytes = 0
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            counted = path != "/stats" && path != settings.readyPath
            if counted { counters.started() }
            if path == "/crash-before-response" { exit(3) }
            if path == "/early" {
                var response = HTTPResponseHead(version: head.version, status: .payloadTooLarge)
                response.headers.add(name: "content-length", value: "10")
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "too large\n")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                if counted { counters.finished() }
                self.head = nil
            }
            if path == "/crash-mid-response" {
                var response = HTTPResponseHead(version: head.version, status: .ok)
                response.headers.add(name: "content-length", value: "1000")
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "0123456789"))))).whenComplete { _ in
                    exit(4)
                }
            }
        case .body(var body):
            bytes += body.readableBytes
            if settings.record != nil, recorded.readableBytes < 1 << 20 { recorded.writeBuffer(&body) }
        case .end:
            guard let head else { return }
            self.head = nil
            if let path = settings.record {
                let body = String(buffer: recorded)
                recorded.clear()
                let line = #"{"method":"\#(head.method.rawValue)","path":"\#(head.uri)","body":\#(body.isEmpty ? "null" : body)}"#
                counters.record(line, to: path)
            }
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        var status = HTTPResponseStatus.ok
        var body = Self.hello
        var delay: Int64 = 0
        if path == settings.readyPath {
            if !settings.isReady {
                status = .serviceUnavailable
                body = ByteBuffer(string: "model not ready\n")
            } else {
                counters.answeredReady()
                body = ByteBuffer(string: "ready\n")
            }
        } else if path == "/headers" {
            body = ByteBuffer(string: head.headers.map { "\($0.name.lowercased()): \($0.value)\n" }.joined())
        } else if path == "/stats" {
            body = ByteBuffer(string: counters.json + "\n")
        } else if head.method == .POST || head.method == .PUT {
            body = ByteBuffer(string: #"{"bytes":\#(bytes)}"# + "\n")
        } else if path == "/slow" {
            delay = Int64(head.queryInt("ms") ?? 100)
        }
        if path == "/big" {
            let size = head.queryInt("n") ?? 1 << 20
            var response = HTTPResponseHead(version: head.version, status: .ok)
            response.headers.add(name: "content-length", value: String(size))
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 65536)
            var left = size
            while left > 0 {
                context.write(wrapOutboundOut(.body(.byteBuffer(piece.getSlice(at: 0, length: min(left, 65536))!))), promise: nil)
                left -= min(left, 65536)
            }
            let counters = self.counters
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in counters.finished() }
            return
        }
        if path == "/chunked" || path == "/unframed" {
            streamUnsized(path: path, head: head, context: context)
            return
        }
        var response = HTTPResponseHead(version: head.version, status: status)
        response.headers.add(name: "content-length", value: String(body.readableBytes))
        response.headers.add(name: "x-backend", value: settings.name)
        if !head.isKeepAlive { response.headers.add(name: "connection", value: "close") }
        let keepAlive = head.isKeepAlive
        let counted = self.counted
        let send = { [self] in
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if counted { self.counters.finished() }
                if !keepAlive { context.close(promise: nil) }
            }
        }
        if delay > 0 {
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(delay), send)
        } else {
            send()
        }
    }
}

/// One gRPC call in `--h2c` mode: the request's message comes back as the response's, then
/// `grpc-status: 0`. The health check answers `status: SERVING` (`08 01`).
final class GRPCEchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload
    private var isHealthCheck = false
    private var body = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if let path = frame.headers.first(name: ":path") { isHealthCheck = path == "/grpc.health.v1.Health/Check" }
            if frame.endStream { respond(context: context) }
        case .data(let frame):
            if case .byteBuffer(var bytes) = frame.data { body.writeBuffer(&bytes) }
            if frame.endStream { respond(context: context) }
        default:
            break
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let message = isHealthCheck ? ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x08, 0x01]) : body
        context.write(wrapOutboundOut(.headers(.init(headers: [":status": "200", "content-type": "application/grpc"]))), promise: nil)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(message)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: ["grpc-status": "0"], endStream: true))), promise: nil)
    }
}
