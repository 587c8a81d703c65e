import ConfigFields
import Foundation

/// Readers for the shapes Kubernetes objects use, on top of the shared `FieldReader`.
extension FieldReader {
    /// The field's full name, quoted, for messages.
    func quoted(_ key: String) -> String { "\"\(path)\(key)\"" }

    /// This object's own name, quoted, for messages about it as a whole.
    var quotedPath: String { "\"\(path.hasSuffix(".") ? String(path.dropLast()) : path)\"" }

    /// Checks that no field outside `used` and `ignored` is set, and notes each `ignored` one that is:
    /// Kubernetes fields that mean nothing to local processes should not stop a file written for a
    /// cluster from running locally, but the user should know they have no effect.
    func accept(used: [String], ignored: [String] = [], because reason: String = "", notes: inout [ConfigError]) throws {
        try rejectUnknown(allowed: used + ignored)
        noteIgnored(ignored, because: reason, notes: &notes)
    }

    /// Notes each of `keys` that is set as having no effect in local mode.
    func noteIgnored(_ keys: [String], because reason: String, notes: inout [ConfigError]) {
        for key in keys where fields[key] != nil {
            notes.append(error("field \(quoted(key)) is ignored in local mode: \(reason)", at: key))
        }
    }

    /// A string; numbers and booleans are accepted as their text, as `stringMap` does, since YAML users
    /// leave env values such as `2` unquoted.
    func text(_ key: String) throws -> String? {
        guard let raw = fields[key], !(raw is NSNull) else { return nil }
        guard let text = Self.scalarText(raw) else { throw error("field \(quoted(key)) must be a string, got \(Self.describe(raw))", at: key) }
        return text
    }

    /// A list of templates, each checked to parse so a syntax error names the field it is in.
    func templates(_ key: String) throws -> [String]? {
        guard let list = try stringList(key) else { return nil }
        for (index, text) in list.enumerated() {
            try checkTemplate(text, field: "\(key)[\(index)]")
        }
        return list
    }

    func checkTemplate(_ text: String, field: String) throws {
        do {
            _ = try GoTemplate(text)
        } catch let problem as TemplateError {
            throw error("field \"\(path)\(field)\": \(problem.message)", at: field)
        }
    }

    /// A Kubernetes object or release name: a DNS-1123 label, since names end up in host names.
    func dnsLabel(_ key: String, example: String) throws -> String {
        guard let name = try string(key), !name.isEmpty else {
            throw error("missing field \(quoted(key)) (a name such as \(example))")
        }
        guard Self.isDNSLabel(name) else {
            throw error("field \(quoted(key)) must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got \"\(name)\"; use a name such as \(example)", at: key)
        }
        return name
    }

    static func isDNSLabel(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 63, let first = name.first, let last = name.last else { return false }
        func alphanumeric(_ character: Character) -> Bool {
            character.isASCII && (character.isNumber || character.isLowercase)
        }
        return alphanumeric(first) && alphanumeric(last) && name.allSatisfy { alphanumeric($0) || $0 == "-" }
    }

    /// `path` made absolute against `baseDirectory` (the YAML file's directory) and cleaned of `.` and `..`.
    static func absolutePath(_ path: String, baseDirectory: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: baseDirectory, isDirectory: true).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    /// A component's `logger: {mode, url}`; the URL must be plain HTTP with a host (the sidecar posts to it).
    func payloadLogger(_ key: String = "logger") throws -> PayloadLoggerSpec? {
        guard let reader = try object(key) else { return nil }
        try reader.rejectUnknown(allowed: ["mode", "url"])
        let mode = try reader.string("mode") ?? "all"
        guard PayloadLoggerSpec.modes.contains(mode) else {
            throw reader.error("field \(reader.quoted("mode")) must be all, request or response, got \"\(mode)\"", at: "mode")
        }
        guard let url = try reader.string("url") else {
            throw reader.error("missing field \(reader.quoted("url")) (the sink the sidecar posts CloudEvents to, e.g. http://127.0.0.1:8000/events)")
        }
        guard let parsed = URL(string: url), parsed.scheme == "http", parsed.host?.isEmpty == false else {
            throw reader.error("field \(reader.quoted("url")) must be http://HOST:PORT/PATH, got \"\(url)\"", at: "url")
        }
        return PayloadLoggerSpec(mode: mode, url: url)
    }
}
