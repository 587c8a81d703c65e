import Foundation
import Testing
import ThawTestSupport

/// Runs the real `thaw` executable, as a user would, and checks what it prints and how it exits.
@Suite struct ThawCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ name: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = try TestProcess.executable(name)
        process.arguments = arguments
        process.currentDirectoryURL = repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func thaw(_ arguments: [String]) throws -> Result { try run("thaw", arguments) }

    static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-test-\(UUID().uuidString)-\(name)")
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func bundledExampleTracePrintsOneDecisionPerDecideEvent() throws {
        let result = try Self.thaw(["simulate", "--policy", "examples/policy.yaml", "--trace", "examples/trace.jsonl"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.first == #"{"t":2,"desired":3,"excessBurstCapacity":-231,"panicking":true,"stable":40,"panic":40}"#)
    }

    @Test func bundledReplayShowsScaleFromZeroAndAScaleUp() throws {
        let result = try Self.thaw(["simulate", "--policy", "examples/policy.yaml", "--replay", "examples/bursty.csv",
                                    "--start-delay", "5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains(#""trigger":"poke""#) && $0.contains(#""want":3"#) })
        #expect(lines.contains { $0.contains(#""replicas":0"#) })
        #expect(lines.last?.contains(#""peakReplicas":22"#) == true)
    }

    @Test func badTraceLineExitsNonZeroNamingLineAndFieldAndPrintsNothing() throws {
        let trace = try Self.temporaryFile("bad.jsonl", """
            {"t":0,"event":"create","ready":1}
            {"t":1,"event":"decide","ready":1,"stable":5,"panic":5}
            {"t":2,"event":"decide","redy":1}
            """)
        let result = try Self.thaw(["simulate", "--trace", trace])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty, "nothing may be printed as if it succeeded")
        #expect(result.stderr.contains("bad.jsonl:3: unknown field \"redy\""), "\(result.stderr)")
    }

    /// A target scaled on GPU makes no decision from requests: a replay of one would be a flat line.
    @Test func aReplayOfAGPUScaledPolicyIsRefusedWithTheReason() throws {
        let policy = try Self.temporaryFile("policy.yaml", """
            annotations:
              autoscaling.knative.dev/metric: gpu
            """)
        let result = try Self.thaw(["simulate", "--policy", policy, "--replay", "examples/bursty.csv"])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(policy) && result.stderr.contains("metric gpu is read by thaw-collector"), "\(result.stderr)")
    }

    @Test func invalidAnnotationExitsNonZeroWithEveryProblem() throws {
        let policy = try Self.temporaryFile("policy.yaml", """
            annotations:
              autoscaling.knative.dev/window: 3s
              autoscaling.knative.dev/max-scale: "-2"
            """)
        let result = try Self.thaw(["simulate", "--policy", policy, "--trace", "examples/trace.jsonl"])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("autoscaling.knative.dev/window: \"3s\" is out of range; expected 6s to 1h0m0s"))
        #expect(result.stderr.contains("autoscaling.knative.dev/max-scale: \"-2\""))
    }

    @Test(arguments: [
        (["--start-delay", "1e10"], "--start-delay must be from 0 to 86400"),
        (["--tail", "9223372036854775807"], "--tail must be from 0 to 1000000"),
        (["--latency", "1e-310"], "--latency must be from 0.000001 to 3600"),
        (["--initial-replicas=-1"], "--initial-replicas must be from 0 to 1000000"),
    ])
    func replayOptionsOutOfRangeAreRefused(options: [String], message: String) throws {
        let result = try Self.thaw(["simulate", "--replay", "examples/bursty.csv"] + options)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func missingFilesAndModesAreExplained() throws {
        let missing = try Self.thaw(["simulate", "--trace", "/nonexistent/trace.jsonl"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/trace.jsonl: cannot read the trace: no such file"), "\(missing.stderr)")
        let neither = try Self.thaw(["simulate"])
        #expect(neither.status != 0)
        #expect(neither.stderr.contains("exactly one of --trace"))
    }

    @Test(arguments: ["thaw", "thaw-activator", "thaw-queue", "thaw-collector", "thaw-autoscaler", "echo-backend",
                      "digits-model-server", "digits-transformer"])
    func everyExecutableHasHelp(name: String) throws {
        let help = try Self.run(name, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: \(name)"))
        if name == "thaw" {
            for command in ["up", "status", "demo", "simulate"] { #expect(help.stdout.contains(command)) }
        }
    }

    @Test func theCollectorsReadCommandExplainsBadInput() throws {
        let result = try Self.run("thaw-collector", ["read", "--prometheus", "http://127.0.0.1:9", "--match", "up{job=x}"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("double quotes"))
    }
}
