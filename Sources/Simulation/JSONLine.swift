import Foundation
import ThawVocabulary

/// Writes one JSON object per line with fields in a fixed order, so output diffs and greps well.
struct JSONLine {
    private var parts: [String] = []

    mutating func add(_ key: String, _ value: Double?) {
        parts.append("\"\(key)\":" + (value.flatMap { $0.isFinite ? Self.format($0) : nil } ?? "null"))
    }

    mutating func add(_ key: String, _ value: Int?) {
        parts.append("\"\(key)\":" + (value.map(String.init) ?? "null"))
    }

    mutating func add(_ key: String, _ value: Bool) {
        parts.append("\"\(key)\":\(value)")
    }

    mutating func add(_ key: String, _ value: String?) {
        parts.append("\"\(key)\":" + (value.map(Self.quote) ?? "null"))
    }

    var text: String { "{" + parts.joined(separator: ",") + "}" }

    /// Whole numbers without a fraction; others in Swift's shortest round-tripping form.
    static func format(_ value: Double) -> String { NumberText.plain(value) }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
