import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 endpoint on 127.0.0.1 that answers what a test tells it to, standing in for a metrics
/// source that misbehaves in ways a real Prometheus will not: corrupt bodies, credentials it insists
/// on, no answer at all. Every request is recorded for the test to inspect.
///
/// Plain POSIX sockets on one thread rather than `ControlServer`: the answers are arbitrary bytes
/// (ControlServer's replies are text), and the client under test makes one blocking call at a time.
final class FakeSource: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    struct Reply: Sendable {
        var status: Int
        var contentType: String
        var body: [UInt8]

        static func text(_ text: String, status: Int = 200) -> Reply {
            Reply(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
        }
    }

    /// The answer to one request; nil keeps the connection open without ever answering (a hung server).
    typealias Responder = @Sendable (Request) -> Reply?

    private let listener: Listener
    let port: Int

    init(_ responder: @escaping Responder) throws {
        listener = try Listener()
        port = listener.port
        let listener = self.listener
        Thread.detachNewThread { listener.serve(responder) }
    }

    /// Stops accepting, closes every connection and waits for the serving thread to end.
    deinit {
        listener.stop()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The requests received so far, in order.
    var requests: [Request] { listener.recorded.withLock { $0 } }
}

/// A value a test changes while a fake's responder, on the fake's own thread, reads it.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// The socket and the serving loop, apart from `FakeSource` so the thread does not keep the fake alive.
private final class Listener: Sendable {
    let socket: Int32
    let port: Int
    let recorded = Mutex<[FakeSource.Request]>([])
    /// Connections left unanswered, closed when the fake stops.
    private let held = Mutex<[Int32]>([])
    private let stopping = Atomic<Bool>(false)
    private let ended = DispatchSemaphore(value: 0)

    struct SocketFailure: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw SocketFailure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(socket, socketAddress, length) == 0 && getsockname(socket, socketAddress, &length) == 0
            }
        }
        guard bound, listen(socket, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(socket)
            throw SocketFailure(description: "cannot listen on a loopback port: \(reason)")
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func serve(_ responder: FakeSource.Responder) {
        defer { ended.signal() }
        while true {
            let connection = accept(socket, nil, nil)
            if connection < 0 {
                if stopping.load(ordering: .acquiring) { return }
                usleep(10_000)  // EMFILE and the like: try again shortly rather than spin
                continue
            }
            if stopping.load(ordering: .acquiring) {
                close(connection)
                return
            }
            // A client that stops sending mid-request must not stall the fake.
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard let request = read(connection) else {
                close(connection)
                continue
            }
            recorded.withLock { $0.append(request) }
            guard let reply = responder(request) else {
                held.withLock { $0.append(connection) }
                continue
            }
            write(reply, to: connection)
            close(connection)
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        // Wakes the thread blocked in accept.
        shutdown(socket, Int32(SHUT_RDWR))
        _ = ended.wait(timeout: .now() + 10)
        close(socket)
        held.withLock { connections in
            connections.forEach { close($0) }
            connections = []
        }
    }

    /// One request: the head up to its blank line, then `Content-Length` bytes of body.
    private func read(_ connection: Int32) -> FakeSource.Request? {
        var bytes: [UInt8] = []
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard receive(connection, into: &bytes) else { return nil }
            headEnd = bytes.firstRange(of: separator)?.lowerBound
        }
        let head = String(decoding: bytes[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
        let length = Int(header("content-length") ?? "0") ?? 0
        if header("expect")?.lowercased() == "100-continue" { send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), to: connection) }
        var body = Array(bytes[(headEnd! + separator.count)...])
        while body.count < length {
            guard receive(connection, into: &body) else { return nil }
        }
        return FakeSource.Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body)
    }

    private func receive(_ connection: Int32, into bytes: inout [UInt8]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(connection, &buffer, buffer.count, 0)
        guard count > 0 else { return false }
        bytes += buffer[..<count]
        return true
    }

    private func write(_ reply: FakeSource.Reply, to connection: Int32) {
        let head = "HTTP/1.1 \(reply.status) \(reply.status < 400 ? "OK" : "Error")\r\nContent-Type: \(reply.contentType)\r\n"
            + "Content-Length: \(reply.body.count)\r\nConnection: close\r\n\r\n"
        send(Array(head.utf8) + reply.body, to: connection)
    }

    private func send(_ bytes: [UInt8], to connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }
}
