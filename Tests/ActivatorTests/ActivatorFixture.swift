import Activator
import ActivatorCore
import ControlHTTP
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import ThawTestSupport
import ThawVocabulary

/// A real `echo-backend` process on a free port.
struct Backend: Sendable {
    let process: TestProcess
    let port: Int
    var address: String { "127.0.0.1:\(port)" }

    static func start(name: String, readyAfter: Double = 0, arguments: [String] = [], port: Int = 0) async throws -> Backend {
        let process = try TestProcess("echo-backend", ["--name", name, "--port", String(port), "--ready-after", String(readyAfter)] + arguments, name: name)
        let line = try await process.waitFor("listening on ")
        guard let port = Int(line.split(separator: " ").last ?? "") else { throw TestFailure("cannot read the port from \"\(line)\"") }
        return Backend(process: process, port: port)
    }

    /// The backend's own counters: requests, the most in flight at once, and wall-clock times.
    func stats() async throws -> [String: Double] {
        let response = try await Client.call(port: port, path: "/stats")
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] ?? [:]
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
}

/// A real `thaw-activator` process with its routing file in a temporary directory.
final class ActivatorProcess: Sendable {
    let process: TestProcess
    let configPath: String
    let port: Int
    let adminPort: Int

    init(config: String, arguments: [String] = []) async throws {
        configPath = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-routes-\(UUID().uuidString).yaml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process = try TestProcess("thaw-activator", ["--config", configPath, "--port", "0", "--admin-port", "0", "--threads", "2"] + arguments,
                                  name: "thaw-activator")
        let line = try await process.waitFor("thaw-activator listening")
        func port(_ key: String) throws -> Int {
            guard let range = line.range(of: key + "="),
                  let token = line[range.upperBound...].split(separator: " ").first,
                  let port = Int(token.split(separator: ":").last ?? "") else {
                throw TestFailure("cannot read \(key) port from \"\(line)\"")
            }
            return port
        }
        self.port = try port("proxy")
        adminPort = try port("admin")
    }

    /// A routing file with one target, `NAME.local`, on these backends, probed at `/ready`, plus
    /// `settings` lines for the target (`containerConcurrency: 1`).
    static func routes(_ name: String, on backends: [Backend], settings: [String] = []) -> String {
        let endpoints = backends.map { "\"\($0.address)\"" }.joined(separator: ", ")
        return (["targets:", "  - name: \(name)", "    hosts: [\(name).local]", "    endpoints: [\(endpoints)]",
                 "    readinessPath: /ready"] + settings.map { "    " + $0 }).joined(separator: "\n") + "\n"
    }

    /// An activator serving one target on these backends, once every backend passed its probe.
    static func serving(_ name: String, on backends: [Backend], settings: [String] = [],
                        arguments: [String] = []) async throws -> ActivatorProcess {
        let activator = try await ActivatorProcess(config: routes(name, on: backends, settings: settings), arguments: arguments)
        try await activator.waitForReady(name, endpoints: backends.count)
        return activator
    }

    /// Waits until `count` endpoints of the target passed their probe.
    func waitForReady(_ name: String, endpoints count: Int) async throws {
        try await waitForTarget(name) { ($0["readyEndpoints"] as? [String])?.count == count }
    }

    /// Does something to the routing file's path (removes it, say); returns the path.
    func rewriteWith(_ change: (String) throws -> Void) throws -> String {
        try change(configPath)
        return configPath
    }

    /// Replaces the routing file; the activator picks it up within a poll interval.
    func rewrite(_ config: String) throws {
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func request(host: String, path: String = "/", method: HTTPMethod = .GET, body: [UInt8]? = nil,
                 headers: [(String, String)] = [], timeout: Double = 30) async throws -> HTTPCall.Response {
        try await Client.call(port: port, path: path, method: method, headers: [("host", host)] + headers, body: body, timeout: timeout)
    }

    func admin(_ path: String) async throws -> HTTPCall.Response {
        try await Client.call(port: adminPort, path: path)
    }

    /// Polls /status until `condition` holds for the target's entry.
    func waitForTarget(_ name: String, timeout: Double = 20, _ condition: ([String: Any]) -> Bool) async throws {
        let end = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < end {
            last = try await admin("/status").body
            let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
            let targets = object?["targets"] as? [[String: Any]] ?? []
            if let target = targets.first(where: { $0["name"] as? String == name }), condition(target) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("target \(name) did not reach the expected state within \(timeout) s; last status: \(last)")
    }
}

enum Client {
    static func call(port: Int, path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [],
                     body: [UInt8]? = nil, timeout: Double = 30) async throws -> HTTPCall.Response {
        try await HTTPCall.perform(on: MultiThreadedEventLoopGroup.singleton.any(), to: EndpointAddress(host: "127.0.0.1", port: port),
                                   method: method, path: path, headers: headers, body: body,
                                   timeout: .milliseconds(Int64(timeout * 1000)))
    }
}

/// Sends raw bytes on one connection and collects what comes back, for what HTTP clients won't do
/// (pipelining several requests in one write).
enum RawClient {
    static func exchange(port: Int, _ text: String, until done: @escaping @Sendable (String) -> Bool, timeout: Double = 10) async throws -> String {
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: String.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(promise: promise, done: done))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        try await channel.writeAndFlush(ByteBuffer(string: text))
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            promise.fail(TestFailure("no complete answer within \(timeout) s"))
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String>
        let done: @Sendable (String) -> Bool
        var received = ""
        init(promise: EventLoopPromise<String>, done: @escaping @Sendable (String) -> Bool) {
            self.promise = promise
            self.done = done
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            if done(received) { promise.succeed(received) }
        }
        func channelInactive(context: ChannelHandlerContext) { promise.succeed(received) }
    }
}
