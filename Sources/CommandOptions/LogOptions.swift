import ArgumentParser
import Logging

/// `--log-level` and the logger it sets up: every daemon logs to standard error the same way.
public struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel = "info"

    public init() {}

    public func validate() throws {
        try FlagCheck.logLevel(logLevel)
    }

    public var level: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }

    /// Sends every log line to standard error and returns the process's logger at `level`.
    public func standardErrorLogger(label: String) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
