/// The part of Go's text/template that MLServiceRuntime containers use: `{{.NAME}}`,
/// `{{if .NAME}}`/`{{if not .NAME}}` with `{{else if …}}`, `{{else}}` and `{{end}}`, and the trim
/// markers `{{-` and `-}}`.
///
/// T9k renders runtime templates with Go; local mode renders the same strings itself, so they must
/// mean the same. Where Go would print `<no value>` for a parameter that is not set, this fails
/// instead, because a model server started with `--port=<no value>` fails far from the cause.
/// Anything outside the subset is rejected rather than guessed at.
public struct GoTemplate: Sendable, Equatable {
    /// The template as written.
    public let text: String
    let nodes: [TemplateNode]

    /// Parses `text`; syntax errors and unsupported actions name the template.
    public init(_ text: String) throws {
        self.text = text
        var parser = TemplateParser(source: text, tokens: try TemplateLexer.tokens(of: text))
        nodes = try parser.parse()
    }

    /// The template with its actions replaced. A condition holds when its parameter is set and not
    /// empty, as Go's truth rule does for strings; printing a parameter that is not set is an error
    /// whose message ends with `missingHint`.
    public func render(_ parameters: [String: String], missingHint: String = "set it in model.parameters") throws -> String {
        var output = ""
        try render(nodes, parameters, missingHint, into: &output)
        return output
    }

    /// Parses and renders in one step.
    public static func render(_ text: String, parameters: [String: String]) throws -> String {
        try GoTemplate(text).render(parameters)
    }

    /// Parameters the template reads, printed or tested, in order of first use.
    public var parameterNames: [String] {
        var names: [String] = []
        func visit(_ nodes: [TemplateNode]) {
            for node in nodes {
                switch node {
                case .text: break
                case .parameter(let name):
                    if !names.contains(name) { names.append(name) }
                case .conditional(let branches, let otherwise):
                    for branch in branches {
                        if !names.contains(branch.condition.name) { names.append(branch.condition.name) }
                        visit(branch.body)
                    }
                    visit(otherwise)
                }
            }
        }
        visit(nodes)
        return names
    }

    private func render(_ nodes: [TemplateNode], _ parameters: [String: String], _ missingHint: String,
                        into output: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let literal):
                output += literal
            case .parameter(let name):
                guard let value = parameters[name] else {
                    throw TemplateError("template parameter .\(name) is not set; \(missingHint) (in template \"\(text)\")",
                                        missingParameter: name)
                }
                output += value
            case .conditional(let branches, let otherwise):
                let chosen = branches.first { $0.condition.holds(in: parameters) }
                try render(chosen?.body ?? otherwise, parameters, missingHint, into: &output)
            }
        }
    }
}

/// A parsed piece of a template.
enum TemplateNode: Sendable, Equatable {
    case text(String)
    case parameter(String)
    /// `{{if}}` with its `{{else if}}` branches in order; `otherwise` is the `{{else}}` body, empty when absent.
    case conditional([TemplateBranch], otherwise: [TemplateNode])
}

struct TemplateBranch: Sendable, Equatable {
    var condition: TemplateCondition
    var body: [TemplateNode]
}

/// `.NAME` or `not .NAME`.
struct TemplateCondition: Sendable, Equatable {
    var name: String
    var negated: Bool

    func holds(in parameters: [String: String]) -> Bool {
        let truthy = !(parameters[name] ?? "").isEmpty
        return negated ? !truthy : truthy
    }
}
