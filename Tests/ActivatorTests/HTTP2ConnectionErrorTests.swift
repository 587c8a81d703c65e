import Foundation
import Testing
import ThawTestSupport

/// Issue 26, finding 1: an HTTP/2 connection that the activator closed with a connection error
/// after a stream was opened was never freed (20-27 KB each; two clients took RSS from 40 MB to
/// 3 GB). The connection is now closed on the loop turn after NIO has answered the error.
@Suite(.serialized) struct HTTP2ConnectionErrorTests {
    /// Per connection: the preface and SETTINGS, wait for the server's SETTINGS, then in one write a
    /// HEADERS that opens stream 1 and a DATA frame on stream 0 (a connection error), then read to
    /// the close. Prints how many connections were closed by the server.
    static let attack = """
        import socket, struct, sys
        def frame(t, flags, stream, payload=b""):
            return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", stream) + payload
        host = b"h.local"
        block = bytes([0x82, 0x86, 0x84, 0x41, len(host)]) + host
        port, n, closed = int(sys.argv[1]), int(sys.argv[2]), 0
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + frame(4, 0, 0))
            s.recv(65536)
            s.sendall(frame(1, 0x4, 1, block) + frame(0, 0, 0, b"x"))
            s.settimeout(5)
            try:
                while s.recv(65536): pass
                closed += 1
            except Exception: pass
            s.close()
        print(closed)
        """

    static func residentKilobytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
            throw TestFailure("no VmRSS in /proc/\(pid)/status")
        }
        return kilobytes
    }

    @Test func fiveThousandConnectionErrorsWithAStreamOpenLeaveNothingBehind() async throws {
        let backend = try await Backend.start(name: "h")
        let activator = try await ActivatorProcess.serving("h", on: [backend])
        // Warm up first: the first connections grow pools and caches that stay, leaked or not.
        let warm = try await offPool { try CommandRun.run(["python3", "-c", Self.attack, String(activator.port), "300"]) }
        #expect(warm.status == 0, "\(warm.stderr)")
        let before = try Self.residentKilobytes(activator.process.pid)
        let run = try await offPool { try CommandRun.run(["python3", "-c", Self.attack, String(activator.port), "5000"]) }
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "5000", "every connection was closed by the activator")
        let after = try Self.residentKilobytes(activator.process.pid)
        #expect(after - before < 20 * 1024, "RSS grew from \(before) KB to \(after) KB over 5,000 connections")
    }
}
