/// Splits a template into literal text and `{{ }}` actions, applying the trim markers on the way so
/// the parser never sees them.
enum TemplateLexer: Sendable {
    enum Token: Sendable, Equatable {
        case text(String)
        /// `words` is the action's content split at whitespace; `source` is the action as written.
        case action(words: [String], source: String)
    }

    /// Go trims these characters around `{{-` and `-}}`.
    static let spaces: Set<Character> = [" ", "\t", "\r", "\n"]

    static func tokens(of text: String) throws -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(text)
        var trimLeading = false
        while let open = rest.range(of: "{{") {
            var literal = rest[..<open.lowerBound]
            if trimLeading { literal = literal.drop { spaces.contains($0) } }
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                throw TemplateError("unclosed action \"{{\" in template \"\(text)\"; close it with \"}}\"")
            }
            var content = afterOpen[..<close.lowerBound]
            let source = "{{" + content + "}}"
            if content.count >= 2, content.first == "-", spaces.contains(content[content.index(after: content.startIndex)]) {
                content = content.dropFirst()
                while let last = literal.last, spaces.contains(last) { literal = literal.dropLast() }
            }
            trimLeading = false
            if content.count >= 2, content.last == "-", spaces.contains(content[content.index(content.endIndex, offsetBy: -2)]) {
                content = content.dropLast()
                trimLeading = true
            }
            if !literal.isEmpty { tokens.append(.text(String(literal))) }
            let words = content.split(whereSeparator: { spaces.contains($0) }).map(String.init)
            tokens.append(.action(words: words, source: source))
            rest = afterOpen[close.upperBound...]
        }
        let tail = trimLeading ? rest.drop { spaces.contains($0) } : rest
        if !tail.isEmpty { tokens.append(.text(String(tail))) }
        return tokens
    }
}
