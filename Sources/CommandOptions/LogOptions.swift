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

    /// Sends every log line to standard error, at `level` for every logger in the process, and returns
    /// the process's own logger.
    public func standardErrorLogger(label: String) -> Logger {
        let level = self.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
