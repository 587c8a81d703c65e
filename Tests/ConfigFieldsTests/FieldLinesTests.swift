import ConfigFields
import Testing

/// Errors point at the field they are about, not at the start of the file or document (issue 14:
/// "line numbers point at the document's start, not the field").
@Suite struct FieldLinesTests {
    static let text = """
        # a comment
        spec:
          name: shop
          releases:
          - name: a
            predictor:
              maxReplicas: two
          - {name: b, predictor: {minReplicas: -1}}
          shared: &x {window: 12s}
          again: *x
        """

    @Test func everyFieldHasItsKeysLine() throws {
        let (_, lines) = try YAMLTree.loadLocated(Self.text)
        #expect(lines.line(of: "spec") == 2)
        #expect(lines.line(of: "spec.name") == 3)
        #expect(lines.line(of: "spec.releases[0]") == 5)
        #expect(lines.line(of: "spec.releases[0].predictor.maxReplicas") == 7)
        #expect(lines.line(of: "spec.releases[1].predictor.minReplicas") == 8, "flow style, on one line")
        #expect(lines.line(of: "spec.shared.window") == 9)
        #expect(lines.line(of: "spec.again") == 10, "an alias is where it is used")
        #expect(lines.line(of: "spec.again.window") == 9, "what an alias repeats is where it is defined")
        #expect(lines.line(of: "spec.releases[0].") == 5, "a reader's path, with its trailing dot")
        #expect(lines.line(of: "spec.missing") == nil)
    }

    @Test func aReadersErrorsNameTheFieldsLine() throws {
        let root = try FieldReader.document(Self.text, file: "shop.yaml", expected: "spec")
        let spec = try #require(try root.object("spec"))
        let releases = try #require(try spec.objectList("releases"))
        let predictor = try #require(try releases[0].object("predictor"))
        #expect(predictor.line == 6, "an object's reader starts at its key's line")
        #expect(throws: ConfigError(file: "shop.yaml", line: 7, "field \"spec.releases[0].predictor.maxReplicas\" must be a number, got \"two\"")) {
            _ = try predictor.number("maxReplicas")
        }
        let second = try #require(try releases[1].object("predictor"))
        #expect(throws: ConfigError(file: "shop.yaml", line: 8, "field \"spec.releases[1].predictor.minReplicas\" must be a whole number of at least 0, got -1")) {
            _ = try second.count("minReplicas")
        }
        #expect(throws: ConfigError(file: "shop.yaml", line: 3, "unknown field \"spec.name\"; expected one of: spec.releases, spec.shared, spec.again")) {
            try spec.rejectUnknown(allowed: ["releases", "shared", "again"])
        }
        #expect(spec.source(of: "shared.window") == SourceLine(file: "shop.yaml", line: 9))
    }
}
