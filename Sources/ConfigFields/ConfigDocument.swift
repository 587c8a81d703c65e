import Foundation
import Yams

extension FieldReader {
    /// Reads a YAML (or JSON) file whose top level is a map, with errors naming the file.
    /// - Parameters:
    ///   - what: the kind of file, for messages ("the routing file").
    ///   - expected: what the top level should hold, for the message when it is not a map.
    public static func document(contentsOf path: String, what: String, expected: String) throws -> FieldReader {
        try document(try InputFile.text(at: path, what: what), file: path, expected: expected)
    }

    public static func document(_ text: String, file: String, expected: String) throws -> FieldReader {
        let loaded: Any?
        let lines: FieldLines
        do {
            (loaded, lines) = try YAMLTree.loadLocated(text)
        } catch {
            throw ConfigError(file: file, "not valid YAML or JSON: \(error)")
        }
        guard let fields = loaded as? [String: Any] else {
            throw ConfigError(file: file, "expected a map with \(expected) at the top level")
        }
        return FieldReader(fields: fields, file: file, line: nil, lines: lines)
    }
}
