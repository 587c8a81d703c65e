import ConfigFields

/// Where a document sits in its file, so every error and warning says which object it is about:
/// `digits.yaml:12: MLService digits (document 2): field "spec.default" …`.
struct DocumentContext: Sendable {
    let file: String
    /// 1-based position among the file's documents, empty ones included, as a reader counts `---`.
    let index: Int
    /// The line the document's content starts on.
    let line: Int?
    /// Where each of its fields is.
    var lines = FieldLines()
    /// The document's kind, or nil before it is known to be a supported one.
    var kind: String?
    var name: String?

    var label: String {
        guard let kind else { return "document \(index)" }
        guard let name, !name.isEmpty else { return "\(kind) (document \(index))" }
        return "\(kind) \(name) (document \(index))"
    }

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, "\(label): \(message)")
    }

    /// An error about the field at `path` (`metadata.name`), on its line.
    func error(_ message: String, at path: String) -> ConfigError {
        ConfigError(file: file, line: lines.line(of: path) ?? line, "\(label): \(message)")
    }

    /// A field reader's error, with the document named in front of its field path; it keeps the
    /// field's own line.
    func located(_ error: ConfigError) -> ConfigError {
        ConfigError(file: file, line: error.line ?? line, "\(label): \(error.message)")
    }

    func reader(_ fields: [String: Any]) -> FieldReader {
        FieldReader(fields: fields, file: file, line: line, lines: lines)
    }
}
