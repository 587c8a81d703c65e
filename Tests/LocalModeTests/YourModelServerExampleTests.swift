import Foundation
import LocalMode
import MLService
import Testing

/// The README's "bring your own model server" example reads as documented: the runtime's command
/// with the replica's port, and the readiness path from its readinessProbe.
@Suite struct YourModelServerExampleTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/your-model-server/mlservice.yaml").path

    @Test func theExampleRunsItsServerOnTheReplicasPortAndProbesPing() throws {
        let parsed = try MLServiceFile.load(contentsOf: Self.file)
        #expect(parsed.warnings.isEmpty, "\(parsed.warnings)")
        let plan = try localPlan(parsed, portsFrom: 44000)
        let target = try #require(plan.targets.first { $0.name == "hello-v1" })
        #expect(target.readinessPath == "/ping")
        let command = try target.command(5123)
        #expect(command.executable == "python3")
        #expect(command.arguments == ["server.py", "--port", "5123"])
        #expect(command.workingDirectory == URL(fileURLWithPath: Self.file).deletingLastPathComponent().path)
    }
}
