import ArgumentParser
import AutoscalerDaemon
import ControlHTTP
import Foundation
import LocalMode
import NIOPosix
import ThawVocabulary

/// `thaw status`: the live table of a running `thaw up`, printed once.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the status table of a running `thaw up`.",
        discussion: "Finds the running instance through the run file `thaw up` writes (\(LocalCluster.defaultRunFilePath)).")

    @Option(name: .customLong("run-file"), help: "The run file of the `thaw up` to ask.")
    var runFile = LocalCluster.defaultRunFilePath

    @Flag(name: .long, help: "Print the autoscaler's JSON status instead of the table.")
    var json = false

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: runFile) else {
            throw CommandFailure("no running `thaw up` found: \(runFile) does not exist (start one with `thaw up FILE.yaml`)")
        }
        let run: LocalCluster.RunFile
        do {
            run = try JSONDecoder().decode(LocalCluster.RunFile.self, from: data)
        } catch {
            throw CommandFailure("\(runFile) is not a thaw up run file: \(error)")
        }
        guard let endpoint = EndpointAddress(run.addresses.autoscaler) else {
            throw CommandFailure("\(runFile) names an autoscaler address that is not HOST:PORT: \(run.addresses.autoscaler)")
        }
        let response: HTTPCall.Response
        do {
            response = try await HTTPCall.perform(on: MultiThreadedEventLoopGroup.singleton.any(), to: endpoint, path: "/status",
                                                  timeout: .seconds(3))
        } catch {
            throw CommandFailure("the thaw up in \(runFile) (pid \(run.pid)) does not answer at \(endpoint): \(error). Is it still running?")
        }
        if json {
            print(response.body, terminator: "")
            return
        }
        guard response.status == 200, let status = try? JSONDecoder().decode(AutoscalerStatus.self, from: Data(response.body.utf8)) else {
            throw CommandFailure("the autoscaler at \(endpoint) answered \(response.status): \(response.body)")
        }
        print(StatusTable.render(run, targets: status.targets))
    }
}
