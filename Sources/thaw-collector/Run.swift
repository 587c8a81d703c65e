import ArgumentParser
import Collector
import CommandOptions
import ControlHTTP
import Foundation
import Logging
import ServiceLifecycle

/// `thaw-collector run`: the polling daemon.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Poll a collector file's source on its interval and push each target's signal to the autoscaler.",
        discussion: """
            The file names one source (prometheus: {url, ...} or exporters: [{url}, ...]) and the signals, \
            e.g. {target: digits-v1, selector: 'DCGM_FI_DEV_GPU_UTIL{exported_pod=~"digits-v1-.*"}'}. \
            Without --autoscaler (or autoscaler: in the file) each round's batch is printed as a JSON line.
            """)

    @Argument(help: "The collector file (YAML or JSON).")
    var file: String

    @Option(help: "The autoscaler's base URL, e.g. http://127.0.0.1:8090 (overrides autoscaler: in the file).")
    var autoscaler: String?

    @Option(name: .long, help: "Address of /metrics, /status, /healthz and /readyz.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port of /metrics, /status, /healthz and /readyz (0 picks a free port).")
    var port = 9102

    @OptionGroup var logging: LogOptions

    func validate() throws {
        try FlagCheck.port(port)
        try FlagCheck.autoscalerURL(autoscaler, flag: "--autoscaler")
    }

    func run() async throws {
        let logger = logging.standardErrorLogger(label: "thaw-collector")
        let config: CollectorConfig
        do {
            config = try CollectorConfig.load(contentsOf: file)
        } catch {
            throw ValidationError("\(error)")
        }
        var url = try FlagCheck.autoscalerURL(autoscaler, flag: "--autoscaler")
        if url == nil, let text = config.autoscaler {
            guard let parsed = AutoscalerURL(text) else {
                throw ValidationError("\(file): field \"autoscaler\" must be http://host:port[/prefix], got \"\(text)\"")
            }
            url = parsed
        }
        var options = Collector.Options()
        options.host = host
        options.port = port
        let collector = Collector(config: config, options: options, autoscaler: url, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: collector)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
