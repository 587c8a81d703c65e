import Foundation

/// A problem with a simulation input, located by file and line so the user can go straight to it.
public struct SimulationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line, or nil for a problem with the whole file.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Typed access to one decoded JSON/YAML object, with errors that name the field and what it expects.
struct FieldReader {
    let fields: [String: Any]
    let file: String
    let line: Int?
    /// A prefix for field names in messages, e.g. "spec.".
    var path = ""

    func error(_ message: String) -> SimulationError { SimulationError(file: file, line: line, message) }

    func rejectUnknown(allowed: [String]) throws {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw error("unknown field \"\(path)\(key)\"; expected one of: \(allowed.map { path + $0 }.joined(separator: ", "))")
        }
    }

    func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }

    func number(_ key: String) throws -> Double? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        if let value = raw as? Double, value.isFinite, !(raw is Bool) { return value }
        if let value = raw as? Int, !(raw is Bool) { return Double(value) }
        throw error("field \"\(path)\(key)\" must be a number, got \(Self.describe(raw))")
    }

    func requiredNumber(_ key: String) throws -> Double {
        guard let value = try number(key) else { throw error("missing field \"\(path)\(key)\" (a number)") }
        return value
    }

    func count(_ key: String) throws -> Int? {
        guard let value = try number(key) else { return nil }
        guard value >= 0, value.rounded() == value, value < 1e9 else {
            throw error("field \"\(path)\(key)\" must be a whole number of at least 0, got \(Self.describe(value))")
        }
        return Int(value)
    }

    func bool(_ key: String) throws -> Bool? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? Bool else {
            throw error("field \"\(path)\(key)\" must be true or false, got \(Self.describe(raw))")
        }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? String else {
            throw error("field \"\(path)\(key)\" must be a string, got \(Self.describe(raw))")
        }
        return value
    }

    func object(_ key: String) throws -> FieldReader? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? [String: Any] else {
            throw error("field \"\(path)\(key)\" must be an object (a map of fields), got \(Self.describe(raw))")
        }
        return FieldReader(fields: value, file: file, line: line, path: path + key + ".")
    }

    /// A map whose values are strings; numbers and booleans are accepted and turned into their text,
    /// since annotation and ConfigMap values are strings that YAML users often leave unquoted.
    func stringMap(_ key: String) throws -> [String: String]? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let map = raw as? [String: Any] else {
            throw error("field \"\(path)\(key)\" must be a map of strings, got \(Self.describe(raw))")
        }
        var result: [String: String] = [:]
        for (name, value) in map {
            switch value {
            case let text as String: result[name] = text
            case let flag as Bool: result[name] = flag ? "true" : "false"
            case let number as Int: result[name] = String(number)
            case let number as Double: result[name] = JSONLine.format(number)
            default:
                throw error("field \"\(path)\(key).\(name)\" must be a string, got \(Self.describe(value))")
            }
        }
        return result
    }

    static func describe(_ value: Any) -> String {
        switch value {
        case let text as String: return "\"\(text)\""
        case let flag as Bool: return flag ? "true" : "false"
        case let number as Double: return JSONLine.format(number)
        case let number as Int: return String(number)
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(value)"
        }
    }
}
