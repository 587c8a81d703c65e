import ArgumentParser
import ControlHTTP
import Logging

/// The flag checks every Thaw executable shares, so each says the same thing the same way.
public enum FlagCheck {
    public static func port(_ value: Int, flag: String = "--port") throws {
        guard (0...65535).contains(value) else { throw ValidationError("\(flag) must be from 0 to 65535 (0 picks a free port), got \(value)") }
    }

    public static func drainSeconds(_ value: Double) throws {
        guard value >= 0, value <= 3600 else { throw ValidationError("--drain-seconds must be from 0 to 3600, got \(value)") }
    }

    /// The autoscaler's base URL from `flag`, nil when the flag is not given.
    @discardableResult
    public static func autoscalerURL(_ text: String?, flag: String = "--autoscaler-url") throws -> AutoscalerURL? {
        guard let text else { return nil }
        guard let url = AutoscalerURL(text) else {
            throw ValidationError("\(flag) must look like http://HOST:PORT[/PREFIX], got \"\(text)\"")
        }
        return url
    }

    public static func logLevel(_ text: String) throws {
        guard Logger.Level(rawValue: text) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got \"\(text)\"")
        }
    }
}
