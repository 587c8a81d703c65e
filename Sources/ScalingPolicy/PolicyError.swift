/// One problem with one setting: which key, the value given, and what would be valid.
public struct PolicyIssue: Sendable, Equatable, CustomStringConvertible {
    /// The annotation or config-autoscaler key, exactly as the user wrote it.
    public var key: String
    /// The offending value, when there is one.
    public var value: String?
    /// What is wrong and what is accepted.
    public var problem: String

    public init(key: String, value: String?, problem: String) {
        self.key = key
        self.value = value
        self.problem = problem
    }

    public var description: String {
        if let value { return "\(key): \"\(value)\" \(problem)" }
        return "\(key): \(problem)"
    }
}

/// Every problem found in a policy at once, so a user fixes them in one round instead of one per try.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [PolicyIssue]

    public init(issues: [PolicyIssue]) { self.issues = issues }

    public var description: String {
        let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
        return "invalid autoscaling policy (\(count)):\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Collects issues while a policy is read, and parses values with Go's `strconv` rules.
struct IssueCollector {
    var issues: [PolicyIssue] = []

    mutating func add(_ key: String, _ value: String?, _ problem: String) {
        issues.append(PolicyIssue(key: key, value: value, problem: problem))
    }

    mutating func float(_ key: String, _ text: String, _ expectation: String) -> Double? {
        if let value = Double(text), value.isFinite { return value }
        add(key, text, "is not a number; expected \(expectation)")
        return nil
    }

    mutating func int(_ key: String, _ text: String, _ expectation: String) -> Int? {
        if let value = Int32(text) { return Int(value) }
        if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }), Int(text) != nil || text.count > 10 {
            add(key, text, "is out of range; expected \(expectation)")
        } else {
            add(key, text, "is not a whole number; expected \(expectation)")
        }
        return nil
    }

    mutating func duration(_ key: String, _ text: String, _ expectation: String) -> Duration? {
        if let value = GoDuration.parse(text) { return value }
        add(key, text, "is not a duration (write it like 60s, 1m30s or 1h); expected \(expectation)")
        return nil
    }

    mutating func bool(_ key: String, _ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default:
            add(key, text, "is not a boolean; expected true or false")
            return nil
        }
    }
}
