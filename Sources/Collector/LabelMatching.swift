import RemoteReadCodec

/// Label matchers with their regular expressions compiled, for filtering exporter scrapes that no
/// Prometheus filtered. PromQL's rules: a missing label is the empty string, and regular
/// expressions are anchored at both ends.
struct CompiledMatchers {
    private enum Test {
        case equal(String)
        case notEqual(String)
        case regex(Regex<AnyRegexOutput>)
        case notRegex(Regex<AnyRegexOutput>)
    }
    private let tests: [(name: String, test: Test)]

    /// - Throws: when a pattern is not a valid regular expression.
    init(_ matchers: [LabelMatch]) throws {
        tests = try matchers.map { matcher in
            switch matcher.op {
            case .equal: (matcher.name, .equal(matcher.value))
            case .notEqual: (matcher.name, .notEqual(matcher.value))
            case .regex: (matcher.name, .regex(try Regex("^(?:" + matcher.value + ")$")))
            case .notRegex: (matcher.name, .notRegex(try Regex("^(?:" + matcher.value + ")$")))
            }
        }
    }

    func accept(_ labels: [String: String]) -> Bool {
        tests.allSatisfy { name, test in
            let value = labels[name] ?? ""
            switch test {
            case .equal(let expected): return value == expected
            case .notEqual(let unexpected): return value != unexpected
            case .regex(let regex): return (try? regex.wholeMatch(in: value)) != nil
            case .notRegex(let regex): return (try? regex.wholeMatch(in: value)) == nil
            }
        }
    }
}
