import ControlHTTP
import Foundation
import Testing
import ThawTestSupport
import ThawVocabulary

/// The same loop as separate processes: thaw-autoscaler with the local driver writes the routing
/// file, and a thaw-activator process follows it and pokes the autoscaler over HTTP.
@Suite(.serialized)
struct SeparateProcessTests {
    /// A restarted thaw-autoscaler hands out the same activator ports: a running activator keeps
    /// listening on them and running transformers keep their PREDICTOR_HOST. (Before, every start
    /// picked new ports, and requests through a transformer got 502 until the activator restarted.)
    @Test func aRestartedAutoscalerKeepsTheActivatorsPorts() async throws {
        let directory = try scratchDirectory("restart")
        defer { try? FileManager.default.removeItem(at: directory) }
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/digits/mlservice.yaml").path
        let routes = directory.appendingPathComponent("routes.json").path
        var commands: [[String]] = []
        for _ in 0..<2 {
            let autoscaler = try TestProcess("thaw-autoscaler", [example, "--port", "0", "--routes-file", routes,
                                                                  "--log-dir", directory.appendingPathComponent("logs").path])
            let command = try await autoscaler.waitFor("run the activator with:")
            commands.append(command.split(separator: " ").drop { $0 != "--host-port" }.map(String.init))
            autoscaler.signal(SIGTERM)
            #expect(try await autoscaler.waitForExit(timeout: 20) == 0, "stderr:\n\(autoscaler.stderr)")
        }
        #expect(commands[0].filter { $0 == "--host-port" }.count == 2, "the service's port and the predictors' port: \(commands[0])")
        #expect(commands[0] == commands[1], "first start \(commands[0]); restart \(commands[1])")
    }

    /// The issue's own case, end to end: a transformer answers through a running thaw-activator,
    /// thaw-autoscaler restarts, and the same activator, never restarted, answers through a new
    /// transformer again (it was 502 until the activator was restarted too).
    @Test func requestsThroughATransformerWorkAcrossAnAutoscalerRestart() async throws {
        let directory = try scratchDirectory("restart-transformer")
        defer { try? FileManager.default.removeItem(at: directory) }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/digits")
        let routes = directory.appendingPathComponent("routes.json").path
        let arguments = [examples.appendingPathComponent("mlservice.yaml").path, "--port", "0", "--routes-file", routes,
                         "--log-dir", directory.appendingPathComponent("logs").path]
        // The autoscaler's own port is kept too: the activator reports to it.
        var autoscaler = try TestProcess("thaw-autoscaler", arguments)
        let command = try await autoscaler.waitFor("run the activator with:")
        let activatorArguments = command.split(separator: " ").drop { $0 != "--config" }.map(String.init)
        let words = command.split(separator: " ").map(String.init)
        guard let mapping = words.first(where: { $0.hasSuffix("=digits.thaw.local") }), let port = Int(mapping.prefix { $0.isNumber }),
              let autoscalerURL = words.first(where: { $0.hasPrefix("http://") }) else {
            throw TestFailure("no service port or autoscaler URL in: \(command)")
        }
        let autoscalerPort = String(autoscalerURL.split(separator: ":").last ?? "")
        let activator = try TestProcess("thaw-activator", activatorArguments + ["--port", "0", "--admin-port", "0"])
        _ = try await activator.waitFor("thaw-activator listening")
        let image = Array(try Data(contentsOf: examples.appendingPathComponent("images/digit-3-918.pgm")))
        func infer() async throws -> HTTPCall.Response {
            try await HTTPCall.perform(on: ThawUp.group.any(), to: EndpointAddress(host: "127.0.0.1", port: port), method: .POST,
                                       path: "/v2/models/digits/infer", body: image, timeout: .seconds(60))
        }
        let first = try await infer()
        #expect(first.status == 200, "body: \(first.body)\nautoscaler:\n\(autoscaler.stderr.suffix(3000))")

        autoscaler.signal(SIGTERM)
        #expect(try await autoscaler.waitForExit(timeout: 30) == 0)
        var again = arguments
        again[2] = autoscalerPort
        autoscaler = try TestProcess("thaw-autoscaler", again)
        let restarted = try await autoscaler.waitFor("run the activator with:")
        #expect(restarted == command, "the same activator command: same ports, same autoscaler address")
        let second = try await infer()
        #expect(second.status == 200, "body: \(second.body)\nautoscaler:\n\(autoscaler.stderr.suffix(3000))\nactivator:\n\(activator.stderr.suffix(2000))")
        #expect(second.body == first.body, "the same model's answer, through a new transformer and predictor")

        activator.signal(SIGTERM)
        autoscaler.signal(SIGTERM)
        #expect(try await activator.waitForExit(timeout: 20) == 0)
        #expect(try await autoscaler.waitForExit(timeout: 30) == 0)
    }

    @Test func aRequestToAnActivatorProcessScalesFromZeroThroughTheAutoscalerProcess() async throws {
        let directory = try scratchDirectory("split")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("services.yaml")
        try EchoService.yaml(name: "apart", releases: [("v1", "")], annotations: LocalModeTests.fastScaling)
            .write(to: file, atomically: true, encoding: .utf8)
        let routes = directory.appendingPathComponent("routes.json").path
        let autoscaler = try TestProcess("thaw-autoscaler", [file.path, "--port", "0", "--routes-file", routes,
                                                              "--log-dir", directory.appendingPathComponent("logs").path])
        let command = try await autoscaler.waitFor("run the activator with:")
        let arguments = command.split(separator: " ").drop { $0 != "--config" }.map(String.init)
        #expect(arguments.contains("--host-port"))
        let activator = try TestProcess("thaw-activator", arguments + ["--port", "0", "--admin-port", "0"])
        let listening = try await activator.waitFor("thaw-activator listening")
        guard let range = listening.range(of: "proxy=[IPv4]127.0.0.1/127.0.0.1:"),
              let port = Int(listening[range.upperBound...].prefix { $0.isNumber }) else {
            throw TestFailure("no proxy address in: \(listening)")
        }
        let response = try await HTTPCall.perform(on: ThawUp.group.any(), to: EndpointAddress(host: "127.0.0.1", port: port), path: "/headers",
                                                  headers: [("host", "apart.thaw.local")], timeout: .seconds(30))
        #expect(response.status == 200, "body: \(response.body)\nautoscaler:\n\(autoscaler.stderr)")
        #expect(response.header("x-backend") == "v1")
        let table = try RoutingConfig.load(contentsOf: routes)
        #expect(table.targets.first?.endpoints.count == 1, "the routing file lists the replica")

        activator.signal(SIGTERM)
        autoscaler.signal(SIGTERM)
        #expect(try await activator.waitForExit(timeout: 20) == 0, "stderr:\n\(activator.stderr)")
        #expect(try await autoscaler.waitForExit(timeout: 20) == 0, "stderr:\n\(autoscaler.stderr)")
        #expect(autoscaler.stderr.contains("all replicas stopped"))
    }
}
