import Autoscaling
import ConfigFields
import Yams

/// One line of a decision trace: what happened to a target at a moment.
public struct TraceEvent: Sendable {
    public enum Kind: Sendable {
        /// Create the decider with this many ready replicas.
        case create(ready: Int)
        /// Record one stat into the windows.
        case stat(RequestStat)
        /// Decide with the windows' averages, or with the given ones.
        case decide(ready: Int, averages: WindowAverages?)
        /// Change spec fields.
        case update(SpecOverride)
    }

    /// The latest time a trace may use (about 31 years), far from `Timestamp`'s limits.
    public static let maxSeconds = 1e9

    public var time: Timestamp
    public var line: Int
    var kind: Kind

    /// Reads a JSON-lines trace file.
    public static func load(contentsOf path: String) throws -> [TraceEvent] {
        try parse(try readText(path, what: "the trace"), file: path)
    }

    /// Reads a JSON-lines trace; blank lines and lines starting with `#` are skipped.
    public static func parse(_ text: String, file: String) throws -> [TraceEvent] {
        var events: [TraceEvent] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = rawLine.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "\r" { continue }
            events.append(try parseLine(String(rawLine), number: index + 1, file: file))
        }
        return events
    }

    static func parseLine(_ text: String, number: Int, file: String) throws -> TraceEvent {
        let loaded: Any?
        do {
            loaded = try YAMLTree.load(text)
        } catch {
            throw SimulationError(file: file, line: number, "not a JSON object (\(error)): \(text.prefix(80))")
        }
        guard let object = loaded as? [String: Any], text.contains("{") else {
            throw SimulationError(file: file, line: number, "not a JSON object: \(text.prefix(80))")
        }
        let reader = FieldReader(fields: object, file: file, line: number)
        let time = try reader.requiredNumber("t")
        guard time >= 0, time <= maxSeconds else {
            throw reader.error("field \"t\" must be from 0 to \(Int(maxSeconds)) seconds, got \(JSONLine.format(time))")
        }
        guard let name = try reader.string("event") else {
            throw reader.error("missing field \"event\" (one of: create, stat, decide, update)")
        }
        let kind: Kind
        switch name {
        case "create":
            try reader.rejectUnknown(allowed: ["t", "event", "ready"])
            kind = .create(ready: try reader.count("ready") ?? 0)
        case "stat":
            try reader.rejectUnknown(allowed: ["t", "event", "concurrency", "requests", "proxiedConcurrency", "proxiedRequests"])
            guard reader.has("concurrency") || reader.has("requests") else {
                throw reader.error("a stat needs \"concurrency\" or \"requests\" (or both)")
            }
            kind = .stat(RequestStat(
                averageConcurrency: try nonNegative(reader, "concurrency"),
                requestCount: try nonNegative(reader, "requests"),
                averageProxiedConcurrency: try nonNegative(reader, "proxiedConcurrency"),
                proxiedRequestCount: try nonNegative(reader, "proxiedRequests")))
        case "decide":
            try reader.rejectUnknown(allowed: ["t", "event", "ready", "stable", "panic"])
            guard let ready = try reader.count("ready") else { throw reader.error("missing field \"ready\" (ready replicas)") }
            let stable = try reader.number("stable"), panic = try reader.number("panic")
            guard (stable == nil) == (panic == nil) else {
                throw reader.error("give both \"stable\" and \"panic\", or neither to use the recorded windows")
            }
            kind = .decide(ready: ready, averages: stable.map { WindowAverages(stable: $0, panic: panic!) })
        case "update":
            try reader.rejectUnknown(allowed: ["t", "event", "spec"])
            guard let spec = try reader.object("spec") else { throw reader.error("missing field \"spec\" (fields to change)") }
            kind = .update(try SpecOverride(spec))
        default:
            throw reader.error("unknown event \"\(name)\"; expected one of: create, stat, decide, update")
        }
        return TraceEvent(time: Timestamp(seconds: time), line: number, kind: kind)
    }

    private static func nonNegative(_ reader: FieldReader, _ key: String) throws -> Double {
        let value = try reader.number(key) ?? 0
        guard value >= 0 else { throw reader.error("field \"\(key)\" must be at least 0, got \(JSONLine.format(value))") }
        return value
    }
}
