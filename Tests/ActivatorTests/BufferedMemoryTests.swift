import Foundation
import Testing
import ThawTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What thousands of requests waiting at zero cost, and that the memory comes back once they are
/// answered. (Before: about 8 KB a waiting request with the release build, 10,000 of them took the
/// activator from 30 to 106 MB, and it stayed at 144 MB after they were answered.)
@Suite(.serialized) struct BufferedMemoryTests {
    /// The process's anonymous resident memory in KiB: its heap and stacks, without the shared
    /// libraries' pages, which a debug and a release build map differently.
    static func anonymousKiB(_ process: TestProcess) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    @Test func waitingRequestsCostUnderSevenKilobytesEachAndTheHeapIsGivenBackAfterTheWave() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let count = 4_000
        try #require(limit.rlim_cur >= rlim_t(count + 1_000), "the test needs \(count + 1_000) descriptors; the hard limit is \(limit.rlim_max)")
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: wave
                hosts: [wave.local]
                endpoints: []
                readinessPath: /ready
                queueLimit: 20000
                timeoutSeconds: 120
            """, arguments: ["--max-connections", "10000"])
        // Warm up the heap's arenas and the admin port so the baseline is not the cold process.
        _ = try await activator.admin("/status")
        let before = Self.anonymousKiB(activator.process)
        var sockets: [SlowClientTests.Socket] = []
        for index in 0..<count {
            let socket = try SlowClientTests.Socket(port: activator.port)
            socket.send("GET /predict/\(index) HTTP/1.1\r\nHost: wave.local\r\nUser-Agent: thaw-test\r\nAccept: */*\r\n\r\n")
            sockets.append(socket)
        }
        try await activator.waitForTarget("wave", timeout: 60) { $0["queueLength"] as? Int == count }
        let waiting = Self.anonymousKiB(activator.process)
        let perRequest = Double(waiting - before) / Double(count)
        print("buffered memory: \(count) waiting requests, anonymous RSS \(before) → \(waiting) KiB, \(String(format: "%.2f", perRequest)) KiB each")

        let backend = try await Backend.start(name: "wave-1")
        try activator.rewrite(ActivatorProcess.routes("wave", on: [backend], settings: ["queueLimit: 20000", "timeoutSeconds: 120"]))
        let open = sockets
        let answered = try await offPool {
            open.reduce(0) { total, socket in total + (socket.blockingRead(timeout: 30, until: "\r\n\r\n").text.hasPrefix("HTTP/1.1 200") ? 1 : 0) }
        }
        #expect(answered == count)
        let peak = Self.anonymousKiB(activator.process)
        sockets.removeAll()
        _ = consume open
        var after = peak
        for _ in 0..<50 where after > before + 16 * 1024 {
            try await Task.sleep(for: .milliseconds(200))
            after = Self.anonymousKiB(activator.process)
        }
        let metrics = try await activator.admin("/metrics").body
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(activator.process.pid)/fd").count) ?? -1
        print("buffered memory: \(descriptors) descriptors open after the wave")
        print("buffered memory: answered \(answered); anonymous RSS \(peak) KiB at the end of the wave, \(after) KiB once the connections closed")
        #expect(perRequest < 7, "a waiting request costs \(perRequest) KiB")
        #expect(after <= before + 16 * 1024, "the heap went from \(before) to \(peak) KiB and back only to \(after) KiB")
        #expect(metrics.split(separator: "\n").contains { $0.hasPrefix("thaw_activator_heap_trims_total ") && !$0.hasSuffix(" 0") }, "the heap was trimmed")
    }
}
