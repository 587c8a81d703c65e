import Foundation
import Testing
import ThawTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Clients too slow to be served: a head sent a byte at a time, a body that stops, a connection that
/// idles. Each is cut off at its own limit (flags here of 1 s, 60/60/75 s by default, as nginx), is
/// counted, and a request that is being answered is never cut off for idling. (Before, none of the
/// three was timed out: a trickled head stayed open for as long as the client liked.)
@Suite(.serialized) struct SlowClientTests {
    /// A plain blocking socket to 127.0.0.1, so a test can send at its own pace.
    final class Socket: @unchecked Sendable {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw TestFailure("connect: \(errno)") }
        }

        deinit { close(fd) }

        func send(_ text: String) { _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }

        /// What arrives until the server closes or `timeout` passes, and whether it closed; read off
        /// the concurrency pool.
        func read(timeout: Double) async throws -> (text: String, closed: Bool) {
            try await offPool { self.blockingRead(timeout: timeout) }
        }

        /// Blocks: call it off the concurrency pool. With `until`, returns once that text arrived.
        func blockingRead(timeout: Double, until marker: String? = nil) -> (text: String, closed: Bool) {
            var received: [UInt8] = []
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, Int32(max(1, end.timeIntervalSinceNow * 1000))) > 0 else { continue }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { return (String(decoding: received, as: UTF8.self), true) }
                received += buffer.prefix(count)
            }
            return (String(decoding: received, as: UTF8.self), false)
        }
    }

    static let flags = ["--client-header-timeout", "1", "--client-body-timeout", "1", "--keepalive-timeout", "1.5"]

    /// An activator with 1 s limits in front of one backend (kept running while this is held), and a connection to it.
    struct Served {
        let backend: Backend
        let activator: ActivatorProcess
        let socket: Socket

        init() async throws {
            backend = try await Backend.start(name: "s")
            activator = try await ActivatorProcess.serving("s", on: [backend], arguments: SlowClientTests.flags)
            socket = try Socket(port: activator.port)
        }
    }

    @Test func aTrickledHeadIsAnswered408AtItsLimit() async throws {
        let served = try await Served()
        let (activator, socket) = (served.activator, served.socket)
        let started = Date()
        var answer = ""
        var closed = false
        var answeredAfter = 0.0
        // A byte every 100 ms, and whatever the server says in between.
        for byte in String(repeating: "GET / HTTP/1.1\r\nHost: s.local\r\nX-A: b", count: 3).map(String.init) {
            socket.send(byte)
            let heard = try await socket.read(timeout: 0.1)
            answer += heard.text
            if !heard.text.isEmpty || heard.closed {
                answeredAfter = Date().timeIntervalSince(started)
                let rest = try await socket.read(timeout: 2)
                closed = heard.closed || rest.closed
                break
            }
        }
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(closed)
        // About 1 s alone; a machine busy with the whole suite adds seconds. What matters is that the
        // client is cut off while it is still trickling (its head would take 12 s).
        #expect(answeredAfter > 0.9 && answeredAfter < 10, "cut off at its 1 s limit while still trickling: \(answeredAfter)")

        // A connection that never sends a byte has the same limit.
        let silent = try Socket(port: activator.port)
        let quiet = try await silent.read(timeout: 5)
        #expect(quiet.closed && quiet.text.hasPrefix("HTTP/1.1 408"), "\(quiet)")
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_client_timeouts_total{kind="head"} 2"#), "\(metrics)")
        #expect(try await activator.admin("/healthz").status == 200)
    }

    @Test func anIdleKeptAliveConnectionIsClosedButNotOneWaitingForItsAnswer() async throws {
        let served = try await Served()
        let (activator, socket) = (served.activator, served.socket)
        socket.send("GET /a HTTP/1.1\r\nHost: s.local\r\n\r\n")
        let started = Date()
        let (answer, closed) = try await socket.read(timeout: 5)
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.hasSuffix("Hello World!\n"), "\(answer)")
        #expect(closed, "closed after idling 1.5 s")
        #expect(Date().timeIntervalSince(started) > 1.2 && Date().timeIntervalSince(started) < 4)

        // A request whose answer takes 3 s, longer than every limit, is not a slow client.
        let busy = try Socket(port: activator.port)
        busy.send("GET /slow?ms=3000 HTTP/1.1\r\nHost: s.local\r\n\r\n")
        let slow = try await busy.read(timeout: 8)
        #expect(slow.text.hasPrefix("HTTP/1.1 200"), "\(slow)")
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_client_timeouts_total{kind="keepalive"} 2"#), "\(metrics)")
    }

    @Test func aBodyThatStopsIsAnswered408AndTheReplicaExchangeAborted() async throws {
        let served = try await Served()
        let (activator, socket) = (served.activator, served.socket)
        socket.send("POST /up HTTP/1.1\r\nHost: s.local\r\nContent-Length: 100\r\n\r\n0123456789")
        let started = Date()
        let (answer, closed) = try await socket.read(timeout: 10)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(closed)
        #expect(Date().timeIntervalSince(started) < 8, "1 s of silence, then at most the 5 s linger")
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_client_timeouts_total{kind="body"} 1"#), "\(metrics)")
        try await activator.waitForTarget("s") { $0["activeRequests"] as? Int == 0 }
    }
}

/// The connection cap: below the descriptor limit, a new connection takes an idle one's place, and
/// is refused only when every connection is busy; the admin port answers throughout.
@Suite(.serialized) struct ConnectionCapTests {
    @Test func aNewConnectionTakesTheLongestIdleOnesPlace() async throws {
        let backend = try await Backend.start(name: "c")
        let activator = try await ActivatorProcess.serving("c", on: [backend], arguments: ["--max-connections", "5"])
        // 50 ms apart, so which idled longest does not depend on which event loop accepted first.
        var idle: [SlowClientTests.Socket] = []
        for _ in 0..<5 {
            idle.append(try SlowClientTests.Socket(port: activator.port))
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(200))
        let fresh = try SlowClientTests.Socket(port: activator.port)
        fresh.send("GET /a HTTP/1.1\r\nHost: c.local\r\nConnection: close\r\n\r\n")
        let answer = try await fresh.read(timeout: 5)
        #expect(answer.text.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(try await idle[0].read(timeout: 2).closed, "the first, longest idle, gave way")
        #expect(try await !idle[4].read(timeout: 0.3).closed, "the others stay")
        #expect(try await activator.admin("/healthz").status == 200)
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_connections_shed_total{reason="idle_evicted"} 1"#), "\(metrics)")
    }

    @Test func anIdleFloodLeavesRequestsAndTheAdminPortServed() async throws {
        let backend = try await Backend.start(name: "c")
        let activator = try await ActivatorProcess.serving("c", on: [backend], arguments: ["--max-connections", "100"])
        // Four times the cap of connections that send nothing (the test's own descriptors bound it).
        let flood = try (0..<400).map { _ in try SlowClientTests.Socket(port: activator.port) }
        let fresh = try SlowClientTests.Socket(port: activator.port)
        fresh.send("GET /a HTTP/1.1\r\nHost: c.local\r\nConnection: close\r\n\r\n")
        #expect(try await fresh.read(timeout: 5).text.hasPrefix("HTTP/1.1 200"))
        #expect(try await activator.admin("/healthz").status == 200)
        let metrics = try await activator.admin("/metrics").body
        let open = metrics.split(separator: "\n").first { $0.hasPrefix("thaw_activator_client_connections ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        #expect(open >= 90 && open <= 100, "never more open than the cap: \(open)")
        #expect(activator.process.process.isRunning)
        _ = flood
    }

    @Test func whenEveryConnectionIsBusyTheNewOneIsClosed() async throws {
        let backend = try await Backend.start(name: "c")
        let activator = try await ActivatorProcess.serving("c", on: [backend], arguments: ["--max-connections", "3"])
        let busy = try (0..<3).map { _ in try SlowClientTests.Socket(port: activator.port) }
        for socket in busy { socket.send("GET /slow?ms=3000 HTTP/1.1\r\nHost: c.local\r\n\r\n") }
        try await activator.waitForTarget("c") { $0["activeRequests"] as? Int == 3 }
        let refused = try SlowClientTests.Socket(port: activator.port)
        refused.send("GET /a HTTP/1.1\r\nHost: c.local\r\n\r\n")
        let answer = try await refused.read(timeout: 2)
        #expect(answer.closed && answer.text.isEmpty, "closed without an answer: \(answer)")
        #expect(try await activator.admin("/healthz").status == 200)
        for socket in busy { #expect(try await socket.read(timeout: 6).text.hasPrefix("HTTP/1.1 200"), "the busy ones are answered") }
        let metrics = try await activator.admin("/metrics").body
        #expect(metrics.contains(#"thaw_activator_connections_shed_total{reason="refused"} 1"#), "\(metrics)")
    }
}
