/// Builds the node tree from the lexer's tokens: `{{if}}` chains nest, and every `{{else}}` or
/// `{{end}}` must close something.
struct TemplateParser: Sendable {
    let source: String
    let tokens: [TemplateLexer.Token]
    var position = 0

    /// One classified action.
    enum Action: Sendable {
        case parameter(String)
        case `if`(TemplateCondition)
        case elseIf(TemplateCondition)
        case `else`
        case end
    }

    static let supported = "{{.NAME}}, {{if .NAME}}, {{if not .NAME}}, {{else if .NAME}}, {{else}}, {{end}}"

    init(source: String, tokens: [TemplateLexer.Token]) {
        self.source = source
        self.tokens = tokens
    }

    mutating func parse() throws -> [TemplateNode] {
        let (nodes, stop) = try parseList()
        if let stop {
            throw error("\(stop.source) has no matching {{if}}")
        }
        return nodes
    }

    /// Nodes up to the next `{{else}}`, `{{else if}}` or `{{end}}` at this level, which is returned
    /// with its source; nil when the template ended first.
    private mutating func parseList() throws -> ([TemplateNode], (action: Action, source: String)?) {
        var nodes: [TemplateNode] = []
        while position < tokens.count {
            let token = tokens[position]
            position += 1
            switch token {
            case .text(let literal):
                nodes.append(.text(literal))
            case .action(let words, let source):
                let action = try classify(words, source: source)
                switch action {
                case .parameter(let name): nodes.append(.parameter(name))
                case .if(let condition): nodes.append(try parseConditional(condition, opening: source))
                case .elseIf, .else, .end: return (nodes, (action, source))
                }
            }
        }
        return (nodes, nil)
    }

    private mutating func parseConditional(_ first: TemplateCondition, opening: String) throws -> TemplateNode {
        var branches: [TemplateBranch] = []
        var condition = first
        while true {
            let (body, stop) = try parseList()
            branches.append(TemplateBranch(condition: condition, body: body))
            guard let stop else { throw error("\(opening) has no matching {{end}}") }
            switch stop.action {
            case .end:
                return .conditional(branches, otherwise: [])
            case .elseIf(let next):
                condition = next
            case .else:
                let (otherwise, last) = try parseList()
                guard let last else { throw error("\(opening) has no matching {{end}}") }
                guard case .end = last.action else {
                    throw error("\(last.source) follows {{else}}; {{else}} must be the last branch before {{end}}")
                }
                return .conditional(branches, otherwise: otherwise)
            case .parameter, .if:
                preconditionFailure("parseList returns only at else, else if or end")
            }
        }
    }

    private func classify(_ words: [String], source: String) throws -> Action {
        switch words.first {
        case "if":
            return .if(try condition(Array(words.dropFirst()), source: source))
        case "else" where words.count == 1:
            return .else
        case "else" where words.count > 2 && words[1] == "if":
            return .elseIf(try condition(Array(words.dropFirst(2)), source: source))
        case "end" where words.count == 1:
            return .end
        default:
            if words.count == 1, let name = Self.parameterName(words[0]) { return .parameter(name) }
            throw unsupported(source)
        }
    }

    private func condition(_ words: [String], source: String) throws -> TemplateCondition {
        if words.count == 1, let name = Self.parameterName(words[0]) {
            return TemplateCondition(name: name, negated: false)
        }
        if words.count == 2, words[0] == "not", let name = Self.parameterName(words[1]) {
            return TemplateCondition(name: name, negated: true)
        }
        throw unsupported(source)
    }

    /// `NAME` from `.NAME`, where NAME is a Go identifier.
    static func parameterName(_ word: String) -> String? {
        guard word.hasPrefix(".") else { return nil }
        let name = word.dropFirst()
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
              name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else { return nil }
        return String(name)
    }

    private func unsupported(_ source: String) -> TemplateError {
        error("unsupported template action \(source); local mode supports only \(Self.supported)")
    }

    private func error(_ message: String) -> TemplateError {
        TemplateError("\(message) (in template \"\(source)\")")
    }
}
