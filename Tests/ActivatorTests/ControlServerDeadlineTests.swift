import ControlHTTP
import Foundation
import NIOCore
import NIOPosix
import Testing
import ThawTestSupport

/// The control server (the autoscaler's intake, every admin port) closes a connection that trickles
/// its request or sits idle. (Before, it had no read or idle timeout at all.)
@Suite(.serialized) struct ControlServerDeadlineTests {
    /// Each test shortens only the limit it tests, so a slow machine does not trip the other.
    static func server(requestTimeout: TimeAmount = .seconds(20), idleTimeout: TimeAmount = .seconds(20)) async throws -> (channel: any Channel, port: Int) {
        let channel = try await ControlServer.bind(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                                   requestTimeout: requestTimeout, idleTimeout: idleTimeout) { _ in .text("ok") }
        return (channel, channel.localAddress?.port ?? 0)
    }

    @Test func aTrickledRequestIsCutOffAtTheRequestTimeout() async throws {
        let (channel, port) = try await Self.server(requestTimeout: .seconds(1))
        defer { channel.close(promise: nil) }
        let socket = try SlowClientTests.Socket(port: port)
        // 2.5 s of trickle, past the 1 s limit, with bytes arriving all the while: still cut off.
        let start = Date()
        for byte in "GET /status HTTP/1.1\r\nHost: x\r\nX-S: a".map(String.init) where Date().timeIntervalSince(start) < 2.5 {
            socket.send(byte)
            try await Task.sleep(for: .milliseconds(100))
        }
        let (text, closed) = try await socket.read(timeout: 5)
        #expect(closed && text.isEmpty, "the trickling connection was closed without an answer: \(text)")
    }

    @Test func anIdleConnectionIsClosedAndAPromptOneIsAnswered() async throws {
        let (channel, port) = try await Self.server(idleTimeout: .seconds(3))
        defer { channel.close(promise: nil) }
        let prompt = try SlowClientTests.Socket(port: port)
        prompt.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try await offPool { prompt.blockingRead(timeout: 15, until: "ok\n") }
        #expect(answer.text.hasPrefix("HTTP/1.1 200"), "\(answer.text)")
        let idle = try SlowClientTests.Socket(port: port)
        let start = Date()
        let (_, closed) = try await idle.read(timeout: 10)
        #expect(closed && Date().timeIntervalSince(start) >= 2.9, "closed after \(Date().timeIntervalSince(start)) s")
    }
}
