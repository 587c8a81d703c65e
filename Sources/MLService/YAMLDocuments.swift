import ConfigFields
import Foundation
import Yams

/// The documents of a multi-document YAML stream, with the line each starts on so that errors can
/// point to it.
enum YAMLDocuments {
    /// Not `Sendable`: it holds Yams's untyped value, and lives only while one file is parsed.
    struct Document {
        /// 1-based.
        var index: Int
        var line: Int?
        var value: Any
        var lines: FieldLines
    }

    /// Non-empty documents; empty ones still count in the numbering.
    static func read(_ text: String, file: String) throws -> [Document] {
        var sequence: YamlSequence<Node>
        do {
            sequence = try Yams.compose_all(yaml: text)
        } catch {
            throw ConfigError(file: file, "not valid YAML: \(error)")
        }
        var documents: [Document] = []
        var index = 0
        while let node = sequence.next() {
            index += 1
            let value: Any
            do {
                value = try YAMLTree.value(of: node, textBytes: text.utf8.count)
            } catch let refusal as YAMLTree.Refusal {
                throw ConfigError(file: file, line: refusal.line, "document \(index): \(refusal.message)")
            }
            if value is NSNull { continue }
            documents.append(Document(index: index, line: node.mark?.line, value: value, lines: FieldLines(node)))
        }
        if let error = sequence.error {
            throw ConfigError(file: file, "not valid YAML: \(error)")
        }
        return documents
    }
}
