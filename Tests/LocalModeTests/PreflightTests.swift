import Foundation
import LocalMode
import MLService
import Testing
import ThawTestSupport

/// Mistakes that can only show once replicas start are found before anything starts, and
/// `thaw up --check` finds them without starting anything. (Before, a missing program was a crash
/// loop reported a few seconds after the banner.)
@Suite struct PreflightTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let example = root.appendingPathComponent("examples/your-model-server/mlservice.yaml").path

    static func broken(_ change: (String) -> String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-preflight-\(UUID().uuidString).yaml").path
        try change(try String(contentsOfFile: example, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkPassesTheExamplesAndStartsNothing() throws {
        let thaw = try TestProcess.executable("thaw").path
        for example in ["examples/digits/mlservice.yaml", "examples/your-model-server/mlservice.yaml"] {
            let run = try CommandRun.run([thaw, "up", "--check", Self.root.appendingPathComponent(example).path])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("ok: ") && run.stdout.contains("nothing started"), "\(run.stdout)")
            #expect(!run.stdout.contains("thaw up: activator"))
        }
    }

    @Test func aProgramNotOnPathIsNamedBeforeAnythingStarts() throws {
        let file = try Self.broken { $0.replacingOccurrences(of: "\"python3\", \"server.py\"", with: "\"no-such-model-server\", \"server.py\"") }
        defer { try? FileManager.default.removeItem(atPath: file) }
        let thaw = try TestProcess.executable("thaw").path
        for arguments in [["up", "--check", file], ["up", file, "--port", "0"]] {
            let run = try CommandRun.run([thaw] + arguments)
            #expect(run.status != 0)
            #expect(run.stderr.contains("target hello-v1: the command \"no-such-model-server\" is not an executable file on PATH"), "\(run.stderr)")
            #expect(!run.stdout.contains("thaw up: activator"), "nothing announced or started")
        }
    }

    @Test func aMissingModelPathAndARelativeProgramThatIsNotThereAreProblems() throws {
        let file = try Self.broken {
            $0.replacingOccurrences(of: "\"python3\", \"server.py\"", with: "\"./bin/server\"")
                .replacingOccurrences(of: "runtime: my-runtime", with: "runtime: my-runtime\n          modelUri: file://./weights")
        }
        defer { try? FileManager.default.removeItem(atPath: file) }
        let parsed = try MLServiceFile.load(contentsOf: file)
        let plan = try localPlan(parsed, portsFrom: 45000)
        let problems = Preflight.problems(plan: plan, file: parsed, searchPath: ["/usr/bin"])
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { $0.contains("\"./bin/server\" is not an executable file relative to") })
        #expect(problems.contains { $0.contains("release v1: the model path") && $0.contains("weights") && $0.contains("does not exist") })
    }
}
