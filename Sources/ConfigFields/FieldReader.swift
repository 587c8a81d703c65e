import Foundation
import ThawVocabulary

/// Typed access to one decoded JSON/YAML object, with errors that name the field and what it expects.
public struct FieldReader {
    public let fields: [String: Any]
    public let file: String
    /// This object's own line (its key's), or its document's when the fields' lines are not known.
    public let line: Int?
    /// A prefix for field names in messages, e.g. "spec.".
    public var path = ""
    /// The line of each field in the document, so a message points at the field it is about.
    public let lines: FieldLines

    public init(fields: [String: Any], file: String, line: Int?, path: String = "", lines: FieldLines = FieldLines()) {
        self.fields = fields
        self.file = file
        self.line = line
        self.path = path
        self.lines = lines
    }

    /// The reader for the object at `key` (a field name, or `name[3]` for a list's item).
    private func child(_ fields: [String: Any], at key: String) -> FieldReader {
        FieldReader(fields: fields, file: file, line: lines.line(of: path + key) ?? line, path: "\(path)\(key).", lines: lines)
    }

    /// A list of strings (numbers are accepted as their text, since YAML users leave ports unquoted).
    public func stringList(_ key: String) throws -> [String]? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let list = raw as? [Any] else {
            throw error("field \"\(path)\(key)\" must be a list of strings, got \(Self.describe(raw))", at: key)
        }
        return try list.enumerated().map { index, item in
            switch item {
            case let text as String: return text
            case let number as Int where !(item is Bool): return String(number)
            default: throw error("field \"\(path)\(key)[\(index)]\" must be a string, got \(Self.describe(item))", at: "\(key)[\(index)]")
            }
        }
    }

    /// A list of objects, each read with its own path (`targets[2].`).
    public func objectList(_ key: String) throws -> [FieldReader]? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let list = raw as? [Any] else {
            throw error("field \"\(path)\(key)\" must be a list, got \(Self.describe(raw))", at: key)
        }
        return try list.enumerated().map { index, item in
            guard let object = item as? [String: Any] else {
                throw error("field \"\(path)\(key)[\(index)]\" must be an object (a map of fields), got \(Self.describe(item))", at: "\(key)[\(index)]")
            }
            return child(object, at: "\(key)[\(index)]")
        }
    }

    public func error(_ message: String) -> ConfigError { ConfigError(file: file, line: line, message) }

    /// Where the field `key` of this object is written.
    public func source(of key: String) -> SourceLine {
        SourceLine(file: file, line: lines.line(of: path + key) ?? line)
    }

    /// An error about the field `key` of this object (`name`, `ports[1]`, `a.b`), on that field's line.
    public func error(_ message: String, at key: String) -> ConfigError {
        ConfigError(file: file, line: lines.line(of: path + key) ?? line, message)
    }

    public func rejectUnknown(allowed: [String]) throws {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw error("unknown field \"\(path)\(key)\"; expected one of: \(allowed.map { path + $0 }.joined(separator: ", "))", at: key)
        }
    }

    public func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }

    public func number(_ key: String) throws -> Double? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        if let value = raw as? Double, value.isFinite, !(raw is Bool) { return value }
        if let value = raw as? Int, !(raw is Bool) { return Double(value) }
        throw error("field \"\(path)\(key)\" must be a number, got \(Self.describe(raw))", at: key)
    }

    public func requiredNumber(_ key: String) throws -> Double {
        guard let value = try number(key) else { throw error("missing field \"\(path)\(key)\" (a number)") }
        return value
    }

    public func count(_ key: String) throws -> Int? {
        guard let value = try number(key) else { return nil }
        guard value >= 0, value.rounded() == value, value < 1e9 else {
            throw error("field \"\(path)\(key)\" must be a whole number of at least 0, got \(Self.describe(value))", at: key)
        }
        return Int(value)
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? Bool else {
            throw error("field \"\(path)\(key)\" must be true or false, got \(Self.describe(raw))", at: key)
        }
        return value
    }

    public func string(_ key: String) throws -> String? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? String else {
            throw error("field \"\(path)\(key)\" must be a string, got \(Self.describe(raw))", at: key)
        }
        return value
    }

    public func object(_ key: String) throws -> FieldReader? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let value = raw as? [String: Any] else {
            throw error("field \"\(path)\(key)\" must be an object (a map of fields), got \(Self.describe(raw))", at: key)
        }
        return child(value, at: key)
    }

    /// A map whose values are strings; numbers and booleans are accepted and turned into their text,
    /// since annotation and ConfigMap values are strings that YAML users often leave unquoted.
    public func stringMap(_ key: String) throws -> [String: String]? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let map = raw as? [String: Any] else {
            throw error("field \"\(path)\(key)\" must be a map of strings, got \(Self.describe(raw))", at: key)
        }
        var result: [String: String] = [:]
        for (name, value) in map {
            guard let text = Self.scalarText(value) else {
                throw error("field \"\(path)\(key).\(name)\" must be a string, got \(Self.describe(value))", at: "\(key).\(name)")
            }
            result[name] = text
        }
        return result
    }

    /// A scalar as the text it stands for (a string, or a number or boolean a YAML user left
    /// unquoted); nil for lists, maps and null.
    public static func scalarText(_ value: Any) -> String? {
        switch value {
        case let text as String: text
        case let flag as Bool: flag ? "true" : "false"
        case let number as Int: String(number)
        case let number as Double: NumberText.plain(number)
        default: nil
        }
    }

    public static func describe(_ value: Any) -> String {
        switch value {
        case let text as String: return "\"\(text)\""
        case let flag as Bool: return flag ? "true" : "false"
        case let number as Double: return NumberText.plain(number)
        case let number as Int: return String(number)
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(value)"
        }
    }
}
