import ControlHTTP
import Foundation
import Testing
import ThawTestSupport

/// A queue released onto a model server that has just come up must not drown it: before slow
/// start and the unsent-request retry, 200 requests buffered at zero and released onto a server
/// with an accept backlog of 5 left about 45 % unanswered until their timeout.
@Suite(.serialized) struct FreshReplicaTests {
    static let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("small_backlog_server.py").path

    /// `window` 4 is the default slow start; 0 turns it off, leaving the retry of requests the
    /// replica's kernel never took (its accept queue overflowed) as the only protection.
    @Test(arguments: [4, 0])
    func everyRequestBufferedAtZeroIsAnsweredOnceByAFreshReplicaWithABacklogOfFive(window: Int) async throws {
        let activator = try await ActivatorProcess(config: """
            targets:
              - name: fresh
                hosts: [fresh.local]
                endpoints: []
                readinessPath: /ready
                queueLimit: 1000
                timeoutSeconds: 20
            """, arguments: ["--slow-start-window", String(window)])
        let count = 200
        let (statuses, releasedAt, served) = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                group.addTask { try await activator.request(host: "fresh.local", path: "/predict/\(index)", timeout: 30).status }
            }
            try await activator.waitForTarget("fresh") { $0["queueLength"] as? Int == count }
            let server = try TestProcess(url: try TestProcess.systemExecutable("python3"), arguments: [Self.server], name: "small-backlog")
            let line = try await server.waitFor("listening on ")
            let port = try #require(Int(line.split(separator: " ").last ?? ""))
            let releasedAt = Date()
            try activator.rewrite("""
                targets:
                  - name: fresh
                    hosts: [fresh.local]
                    endpoints: ["127.0.0.1:\(port)"]
                    readinessPath: /ready
                    queueLimit: 1000
                    timeoutSeconds: 20
                """)
            var statuses: [Int] = []
            for try await status in group { statuses.append(status) }
            let served = try await Client.call(port: port, path: "/count").body.trimmingCharacters(in: .whitespacesAndNewlines)
            return (statuses, releasedAt, Int(served))
        }
        let seconds = Date().timeIntervalSince(releasedAt)
        let metrics = try await activator.admin("/metrics").body
        let retries = metrics.split(separator: "\n").first { $0.hasPrefix("thaw_activator_retries_total{target=\"fresh\"}") } ?? "none"
        print("fresh replica, slow-start window \(window): \(count) answered in \(String(format: "%.2f", seconds)) s after the release; \(retries)")
        #expect(statuses.filter { $0 == 200 }.count == count, "answers: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
        #expect(served == count, "the replica served each request exactly once")
        #expect(seconds < 12, "answered in \(seconds) s; before the fix the unlucky ones waited for their 20 s timeout")
    }
}
