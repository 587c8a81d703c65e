import Foundation
import Testing
import ThawTestSupport

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

    static let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("wave_client.py").path

    @Test func waitingRequestsCostUnderSevenKilobytesEachAndTheHeapIsGivenBackAfterTheWave() async throws {
        let count = 4_000
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
        let control = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-wave-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: control, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: control) }
        let clients = try TestProcess(url: try TestProcess.systemExecutable("python3"),
                                      arguments: [Self.client, String(activator.port), String(count), control.path], name: "wave-clients")
        _ = try await clients.waitFor("sent", timeout: 60)
        try await activator.waitForTarget("wave", timeout: 60) { $0["queueLength"] as? Int == count }
        let waiting = Self.anonymousKiB(activator.process)
        let perRequest = Double(waiting - before) / Double(count)
        print("buffered memory: \(count) waiting requests, anonymous RSS \(before) → \(waiting) KiB, \(String(format: "%.2f", perRequest)) KiB each")

        let backend = try await Backend.start(name: "wave-1")
        try activator.rewrite(ActivatorProcess.routes("wave", on: [backend], settings: ["queueLimit: 20000", "timeoutSeconds: 120"]))
        FileManager.default.createFile(atPath: control.appendingPathComponent("read").path, contents: nil)
        let line = try await clients.waitFor("answered ", timeout: 60)
        #expect(line.hasSuffix("answered \(count)"), "\(line)")
        let peak = Self.anonymousKiB(activator.process)
        FileManager.default.createFile(atPath: control.appendingPathComponent("close").path, contents: nil)
        _ = try await clients.waitFor("closed", timeout: 30)
        var after = peak
        for _ in 0..<50 where after > before + 16 * 1024 {
            try await Task.sleep(for: .milliseconds(200))
            after = Self.anonymousKiB(activator.process)
        }
        let metrics = try await activator.admin("/metrics").body
        print("buffered memory: anonymous RSS \(peak) KiB at the end of the wave, \(after) KiB once the connections closed")
        #expect(perRequest < 7, "a waiting request costs \(perRequest) KiB")
        #expect(after <= before + 16 * 1024, "the heap went from \(before) to \(peak) KiB and back only to \(after) KiB")
        #expect(metrics.split(separator: "\n").contains { $0.hasPrefix("thaw_activator_heap_trims_total ") && !$0.hasSuffix(" 0") }, "the heap was trimmed")
    }
}
