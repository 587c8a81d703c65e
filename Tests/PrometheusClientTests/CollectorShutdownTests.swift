import Foundation
import Testing
import ThawTestSupport

/// SIGTERM ends `thaw-collector` within about a second, even while a read is under way. (Before,
/// it waited for the read to end: 15 s behind an exporter that answers slowly, as the issue saw.)
@Suite(.serialized)
struct CollectorShutdownTests {
    /// An exporter that answers its headers, then one byte every 200 ms of a page that never ends.
    static let dribbler = """
        import socket, sys, time
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        print("port", server.getsockname()[1], flush=True)
        while True:
            connection, _ = server.accept()
            connection.recv(65536)
            print("reading", flush=True)
            connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 100000000\\r\\n\\r\\n")
            try:
                while True:
                    connection.sendall(b"#")
                    time.sleep(0.2)
            except OSError:
                print("closed", flush=True)
        """

    @Test func sigtermDuringASlowReadEndsTheCollectorWithinASecond() async throws {
        let exporter = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: ["-c", Self.dribbler], name: "dribbler")
        let port = try await exporter.waitFor("port ", timeout: 10).dropFirst("port ".count)
        let directory = try scratchDirectory("collector-shutdown")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("collector.yaml")
        try """
            interval: 30s
            exporters: [{url: "http://127.0.0.1:\(port)", timeout: 30s}]
            signals:
              - {target: llm, selector: 'DCGM_FI_DEV_GPU_UTIL', window: 60s}
            """.write(to: file, atomically: true, encoding: .utf8)
        let collector = try TestProcess("thaw-collector", ["run", file.path, "--port", "0"])
        _ = try await exporter.waitFor("reading", timeout: 20)
        try await Task.sleep(for: .milliseconds(500))
        let signalled = ContinuousClock.now
        collector.signal(SIGTERM)
        let status = try await collector.waitForExit(timeout: 20)
        let took = ContinuousClock.now - signalled
        #expect(status == 0, "stderr: \(collector.stderr.suffix(1000))")
        #expect(took < .milliseconds(1500), "took \(took) to stop with a read under way")
        _ = try await exporter.waitFor("closed", timeout: 5)
    }
}
