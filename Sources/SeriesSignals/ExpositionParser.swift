/// One sample line of the Prometheus text exposition format.
public struct ScrapedSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
    /// Milliseconds since the Unix epoch, when the line carries one.
    public var timestampMilliseconds: Int64?

    public init(name: String, labels: [String: String], value: Double, timestampMilliseconds: Int64? = nil) {
        self.name = name
        self.labels = labels
        self.value = value
        self.timestampMilliseconds = timestampMilliseconds
    }
}

/// Reads the Prometheus text exposition format (version 0.0.4), which dcgm-exporter serves on
/// `/metrics`: small clusters can scale on GPU utilization without a Prometheus server.
///
/// Comment, `# HELP` and `# TYPE` lines are skipped; label values may hold escaped `\\`, `\"` and
/// `\n`; values may be `NaN`, `+Inf` or `-Inf`. A malformed line is an error naming its line number,
/// never a crash, since the text comes from another process.
public enum ExpositionParser {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "metrics text line \(line): \(message)" }
    }

    /// The most samples one page may hold: a GPU node's exporter shows hundreds; a page of
    /// hundreds of thousands (a federation endpoint, a wrong URL) would stall every round.
    public static let maxSamples = 100_000

    public static func parse(_ text: String, maxSamples: Int = maxSamples) throws -> [ScrapedSample] {
        var samples: [ScrapedSample] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard samples.count < maxSamples else {
                throw Failure(line: index + 1, message: "more than \(maxSamples) samples on one page; point the collector at each node's exporter, or read through Prometheus")
            }
            do {
                samples.append(try sample(Array(trimmed.utf8)))
            } catch let message as Message {
                throw Failure(line: index + 1, message: message.text)
            }
        }
        return samples
    }

    private struct Message: Error { var text: String }

    private static func sample(_ bytes: [UInt8]) throws -> ScrapedSample {
        var position = 0
        func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || (!first && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        func name() throws -> String {
            let start = position
            while position < bytes.count, isNameByte(bytes[position], first: position == start) { position += 1 }
            guard position > start else { throw Message(text: "expected a metric or label name") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
        func skipSpaces() {
            while position < bytes.count, bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t") { position += 1 }
        }
        let metric = try name()
        var labels: [String: String] = [:]
        skipSpaces()
        if position < bytes.count, bytes[position] == UInt8(ascii: "{") {
            position += 1
            while true {
                skipSpaces()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; break }
                let label = try name()
                skipSpaces()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else { throw Message(text: "expected = after label \(label)") }
                position += 1
                skipSpaces()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw Message(text: "expected a quoted value for label \(label)") }
                position += 1
                var value: [UInt8] = []
                var closed = false
                while position < bytes.count {
                    let byte = bytes[position]
                    position += 1
                    if byte == UInt8(ascii: "\"") { closed = true; break }
                    if byte == UInt8(ascii: "\\"), position < bytes.count {
                        let escaped = bytes[position]
                        position += 1
                        value.append(escaped == UInt8(ascii: "n") ? UInt8(ascii: "\n") : escaped)
                    } else {
                        value.append(byte)
                    }
                }
                guard closed else { throw Message(text: "unterminated value for label \(label)") }
                labels[label] = String(decoding: value, as: UTF8.self)
                skipSpaces()
                if position < bytes.count, bytes[position] == UInt8(ascii: ",") {
                    position += 1
                } else if position >= bytes.count || bytes[position] != UInt8(ascii: "}") {
                    throw Message(text: "expected , or } after the value of label \(label)")
                }
            }
        }
        skipSpaces()
        let rest = String(decoding: bytes[position...], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard let first = rest.first else { throw Message(text: "\(metric) has no value") }
        guard let value = number(first) else { throw Message(text: "\(metric) has a value that is not a number: \(first)") }
        var timestamp: Int64?
        if rest.count > 1 {
            guard rest.count == 2, let stamp = Int64(rest[1]) else { throw Message(text: "\(metric) has trailing text after its value: \(rest.dropFirst().joined(separator: " "))") }
            timestamp = stamp
        }
        return ScrapedSample(name: metric, labels: labels, value: value, timestampMilliseconds: timestamp)
    }

    private static func number(_ text: Substring) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default: return Double(text)
        }
    }
}
