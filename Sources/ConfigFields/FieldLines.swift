import Yams

/// Where each field of a YAML document sits, keyed by the path messages use
/// (`spec.releases[0].predictor.minReplicas`), so an error points at the field's own line instead
/// of the line its document starts on. Built from the composed document, before its values lose
/// their positions.
public struct FieldLines: Sendable {
    private var lines: [String: Int] = [:]

    public init() {}

    public init(_ node: Node) {
        record(node, at: "")
    }

    /// The 1-based line of the field at `path` (`a.b[2].c`), if the document has it.
    public func line(of path: String) -> Int? {
        lines[path.hasSuffix(".") ? String(path.dropLast()) : path]
    }

    private mutating func record(_ node: Node, at path: String) {
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else { continue }
                let field = path.isEmpty ? scalar.string : "\(path).\(scalar.string)"
                // The key's line: a map or list value starts on the lines below it.
                if let line = key.mark?.line { lines[field] = line }
                record(value, at: field)
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() {
                let field = "\(path)[\(index)]"
                if let line = item.mark?.line { lines[field] = line }
                record(item, at: field)
            }
        case .scalar, .alias:
            // An alias's own line is where it is used; what it repeats is recorded where it was defined.
            return
        }
    }
}
