/// One `env` entry of a container. A list rather than a map, because Kubernetes keeps the order
/// and lets a later entry replace an earlier one of the same name.
public struct EnvVar: Sendable, Equatable {
    public var name: String
    /// A template, rendered per replica.
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `base` with every variable that `overrides` names replaced, the overrides following in their
    /// own order: how a predictor's env adds to and wins over its runtime's.
    public static func merge(_ base: [EnvVar], _ overrides: [EnvVar]) -> [EnvVar] {
        let replaced = Set(overrides.map(\.name))
        return base.filter { !replaced.contains($0.name) } + overrides
    }
}
