import RemoteReadCodec

extension LabelMatch {
    /// Whether a label set satisfies this matcher, with PromQL's rules: a missing label is the empty
    /// string, and regular expressions are anchored at both ends. Used on exporter scrapes, which
    /// no Prometheus filtered.
    func matches(_ labels: [String: String]) throws -> Bool {
        let value = labels[name] ?? ""
        switch op {
        case .equal: return value == self.value
        case .notEqual: return value != self.value
        case .regex: return try Self.fullMatch(self.value, value)
        case .notRegex: return try !Self.fullMatch(self.value, value)
        }
    }

    private static func fullMatch(_ pattern: String, _ value: String) throws -> Bool {
        let regex = try Regex("^(?:" + pattern + ")$")
        return try regex.wholeMatch(in: value) != nil
    }
}
