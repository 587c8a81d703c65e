import Testing
@testable import MLService

@Suite struct GoTemplateTests {
    func render(_ text: String, _ parameters: [String: String] = [:]) throws -> String {
        try GoTemplate(text).render(parameters)
    }

    func error(_ text: String, _ parameters: [String: String] = [:]) -> String {
        do {
            _ = try GoTemplate(text).render(parameters)
            Issue.record("expected \"\(text)\" to fail")
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func literalTextPassesThrough() throws {
        #expect(try render("plain --flag=1 } { }} text") == "plain --flag=1 } { }} text")
        #expect(try render("") == "")
    }

    @Test func printsParameters() throws {
        #expect(try render("--port={{.PORT}}", ["PORT": "8080"]) == "--port=8080")
        #expect(try render("{{ .A }}-{{.B_2}}", ["A": "x", "B_2": "y"]) == "x-y")
        #expect(try render("{{.EMPTY}}", ["EMPTY": ""]) == "")
    }

    @Test func missingParameterNamesItAndTheFix() {
        let message = error("--delay={{.LOAD_DELAY}}", ["PORT": "1"])
        #expect(message.contains("template parameter .LOAD_DELAY is not set; set it in model.parameters"))
        #expect(message.contains("--delay={{.LOAD_DELAY}}"))
    }

    @Test func missingParameterErrorCarriesTheName() {
        #expect(throws: TemplateError.self) { try GoTemplate("{{.X}}").render([:]) }
        let problem = #expect(throws: TemplateError.self) { try GoTemplate("{{.X}}").render([:], missingHint: "use PORT") }
        #expect(problem?.missingParameter == "X")
        #expect(problem?.message.hasPrefix("template parameter .X is not set; use PORT") == true)
    }

    @Test func ifElseChoosesByTruth() throws {
        let template = "{{if .MODEL_PATH}}{{.MODEL_PATH}}{{else}}all{{end}}"
        #expect(try render(template, ["MODEL_PATH": "/m"]) == "/m")
        #expect(try render(template, [:]) == "all")
        #expect(try render(template, ["MODEL_PATH": ""]) == "all", "an empty value is false, as in Go")
        #expect(try render("a{{if .X}}b{{end}}c", [:]) == "ac")
    }

    @Test func ifNotNegates() throws {
        #expect(try render("{{if not .DEBUG}}quiet{{end}}", [:]) == "quiet")
        #expect(try render("{{if not .DEBUG}}quiet{{else}}loud{{end}}", ["DEBUG": "1"]) == "loud")
    }

    @Test func elseIfTakesTheFirstTrueBranch() throws {
        let template = "{{if .A}}a{{else if not .B}}not-b{{else if .C}}c{{else}}none{{end}}"
        #expect(try render(template, ["A": "1", "B": "1", "C": "1"]) == "a")
        #expect(try render(template, [:]) == "not-b")
        #expect(try render(template, ["B": "1", "C": "1"]) == "c")
        #expect(try render(template, ["B": "1"]) == "none")
        #expect(try render("{{if .A}}a{{else if .B}}b{{end}}", [:]) == "")
    }

    @Test func conditionalsNest() throws {
        let template = "{{if .A}}[{{if .B}}ab{{else}}a{{end}}]{{else}}{{if not .B}}none{{end}}{{end}}"
        #expect(try render(template, ["A": "1", "B": "1"]) == "[ab]")
        #expect(try render(template, ["A": "1"]) == "[a]")
        #expect(try render(template, [:]) == "none")
        #expect(try render(template, ["B": "1"]) == "")
    }

    @Test func untakenBranchesMayNameMissingParameters() throws {
        #expect(try render("{{if .X}}{{.X}}{{else}}default{{end}}", [:]) == "default")
    }

    @Test func trimMarkersRemoveAdjacentWhitespace() throws {
        #expect(try render("a  {{- .X -}}  b", ["X": "x"]) == "axb")
        #expect(try render("a \n\t{{- .X}} b", ["X": "x"]) == "ax b")
        #expect(try render("a {{.X -}}\n b", ["X": "x"]) == "a xb")
        #expect(try render("{{if .X -}}\n  yes\n{{- end}}", ["X": "1"]) == "yes")
        #expect(try render("{{.A}} {{- .B}}", ["A": "1", "B": "2"]) == "12")
    }

    @Test func minusWithoutSpaceIsNotATrimMarker() {
        #expect(error("{{-.X}}").contains("unsupported template action {{-.X}}"))
    }

    @Test func unsupportedActionsAreRejected() {
        for text in ["{{.}}", "{{printf \"%d\" .X}}", "{{.X | quote}}", "{{range .X}}{{end}}", "{{if .X .Y}}a{{end}}",
                     "{{if eq .X \"1\"}}a{{end}}", "{{.X.Y}}", "{{}}", "{{ $x := 1 }}", "{{/* note */}}"] {
            let message = error(text)
            #expect(message.contains("unsupported template action"), "\(text): \(message)")
            #expect(message.contains("{{.NAME}}"), "the message lists what is supported")
        }
    }

    @Test func unclosedActionNamesTheTemplate() {
        let message = error("--port={{.PORT")
        #expect(message.contains("unclosed action"))
        #expect(message.contains("\"--port={{.PORT\""))
    }

    @Test func unmatchedStructureIsReported() {
        #expect(error("a{{end}}").contains("{{end}} has no matching {{if}}"))
        #expect(error("a{{else}}b").contains("{{else}} has no matching {{if}}"))
        #expect(error("{{if .X}}a").contains("{{if .X}} has no matching {{end}}"))
        #expect(error("{{if .X}}a{{else}}b").contains("has no matching {{end}}"))
        #expect(error("{{if .X}}a{{else}}b{{else}}c{{end}}").contains("{{else}} must be the last branch"))
        #expect(error("{{if .X}}{{if .Y}}a{{end}}").contains("in template \"{{if .X}}{{if .Y}}a{{end}}\""))
    }

    @Test func listsTheParametersItReads() throws {
        let template = try GoTemplate("{{if .A}}{{.B}}{{else if not .C}}{{.A}}{{end}}{{.D}}")
        #expect(template.parameterNames == ["A", "B", "C", "D"])
    }
}
