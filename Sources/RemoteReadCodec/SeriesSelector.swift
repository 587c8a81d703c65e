/// A PromQL series selector, `name{label="v", other=~"re"}` or `{__name__="name", ...}`, read into
/// remote-read label matchers. Only selectors: no functions, ranges or offsets.
public enum SeriesSelector {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static func parse(_ text: String) throws -> [LabelMatch] {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var matchers: [LabelMatch] = []
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        if !name.isEmpty {
            matchers.append(LabelMatch("__name__", .equal, String(name)))
            rest = rest.dropFirst(name.count)
        }
        rest = rest.drop { $0 == " " }
        if rest.isEmpty {
            guard !matchers.isEmpty else { throw Invalid(description: "an empty selector; write e.g. up or {job=\"x\"}") }
            return matchers
        }
        guard rest.first == "{", rest.last == "}" else {
            throw Invalid(description: "\"\(text)\" is not a series selector: expected NAME, {LABEL=\"VALUE\", ...} or both")
        }
        var body = rest.dropFirst().dropLast()
        while true {
            body = body.drop { $0 == " " || $0 == "," }
            if body.isEmpty { break }
            let label = body.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            guard !label.isEmpty else { throw Invalid(description: "expected a label name at \"\(body)\"") }
            body = body.dropFirst(label.count).drop { $0 == " " }
            let op: LabelMatch.Operator
            if body.hasPrefix("=~") { op = .regex } else if body.hasPrefix("!~") { op = .notRegex }
            else if body.hasPrefix("!=") { op = .notEqual } else if body.hasPrefix("=") { op = .equal }
            else { throw Invalid(description: "expected =, !=, =~ or !~ after \(label)") }
            body = body.dropFirst(op.rawValue.count).drop { $0 == " " }
            guard body.first == "\"" else { throw Invalid(description: "the value of \(label) must be in double quotes") }
            body = body.dropFirst()
            var value = ""
            var closed = false
            while let character = body.first {
                body = body.dropFirst()
                if character == "\\", let escaped = body.first {
                    body = body.dropFirst()
                    value.append(escaped == "n" ? "\n" : escaped)
                } else if character == "\"" {
                    closed = true
                    break
                } else {
                    value.append(character)
                }
            }
            guard closed else { throw Invalid(description: "the value of \(label) has no closing quote") }
            matchers.append(LabelMatch(String(label), op, value))
        }
        guard !matchers.isEmpty else { throw Invalid(description: "an empty selector; write e.g. up or {job=\"x\"}") }
        return matchers
    }
}
