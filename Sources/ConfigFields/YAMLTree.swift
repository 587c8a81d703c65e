import Yams

/// YAML read the way every Thaw file reader needs it: composed first, checked, then turned into
/// Swift values. Yams, asked for values straight away, traps on a mapping key that is itself a
/// map or a list (`? {a: 1}: b`, found by `make fuzz`), and expands aliases before anything can
/// look at the size (a 410-byte alias bomb grows to gigabytes), and traps on a YAML 1.1 base-60
/// number too large for an Int (`-800000000000000000:0`, also found by `make fuzz`). The check
/// refuses all three, naming the line, before a single value is built.
public enum YAMLTree {
    /// How many values a document may hold once its aliases are expanded: ten per byte of text
    /// (a value takes at least two), and never fewer than 100,000, so aliases may repeat a
    /// value, not multiply it.
    public static func valueLimit(forTextBytes bytes: Int) -> Int { max(100_000, bytes.multipliedReportingOverflow(by: 10).partialValue) }

    public struct Refusal: Error, CustomStringConvertible {
        public var line: Int?
        public var message: String
        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    /// The document's value (nil when empty), as `Yams.load` gives it, once it passed the check.
    public static func load(_ text: String) throws -> Any? {
        try loadLocated(text).value
    }

    /// The document's value, with the line of each of its fields.
    public static func loadLocated(_ text: String) throws -> (value: Any?, lines: FieldLines) {
        guard let node = try Yams.compose(yaml: text) else { return (nil, FieldLines()) }
        return (try value(of: node, textBytes: text.utf8.count), FieldLines(node))
    }

    /// One composed document's value, once it passed the check.
    public static func value(of node: Node, textBytes: Int) throws -> Any {
        var budget = valueLimit(forTextBytes: textBytes)
        try check(node, budget: &budget)
        return node.any
    }

    /// Whether Yams would overflow turning `text` into an Int as YAML 1.1's sexagesimal (`1:30`
    /// is 90): the same arithmetic as its constructor's, with the overflow reported.
    static func overflowsAsBase60(_ text: String) -> Bool {
        guard text.contains(":") else { return false }
        var unsigned = Substring(text)
        if unsigned.first == "-" || unsigned.first == "+" { unsigned = unsigned.dropFirst() }
        var digits: [Int] = []
        for part in unsigned.split(separator: ":", omittingEmptySubsequences: false) {
            guard let digit = Int(part) else { return false }
            digits.append(digit)
        }
        var base = 1
        var value = 0
        for digit in digits.reversed() {
            let (product, productOverflow) = digit.multipliedReportingOverflow(by: base)
            let (sum, sumOverflow) = value.addingReportingOverflow(product)
            let (next, baseOverflow) = base.multipliedReportingOverflow(by: 60)
            if productOverflow || sumOverflow || baseOverflow { return true }
            (value, base) = (sum, next)
        }
        return false
    }

    private static func check(_ node: Node, budget: inout Int) throws {
        budget -= 1
        guard budget >= 0 else {
            throw Refusal(line: node.mark?.line, message: "the document expands to more values than its size allows (anchors and aliases may repeat a value, not multiply it)")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, overflowsAsBase60(scalar.string) {
                throw Refusal(line: scalar.mark?.line, message: "\"\(scalar.string.prefix(40))\" reads as a base-60 number (YAML 1.1) too large for an integer; quote it if it is text")
            }
        case .alias:
            return
        case .sequence(let sequence):
            for item in sequence { try check(item, budget: &budget) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else {
                    let kind = if case .mapping = key { "map" } else { "list" }
                    throw Refusal(line: key.mark?.line, message: "a key must be plain text, not a \(kind) (a \"?\" entry or a {…}/[…] key)")
                }
                try check(value, budget: &budget)
            }
        }
    }
}
