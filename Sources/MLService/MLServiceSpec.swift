/// One MLService: its releases, how traffic splits between the default and the canary, and the
/// transformer in front of them if any.
public struct MLServiceSpec: Sendable, Equatable {
    public var name: String
    public var namespace: String?
    /// The release that serves requests not sent to the canary.
    public var defaultRelease: String
    public var canary: String?
    /// Share (0...100) of requests sent to `canary`; 0 without one.
    public var canaryTrafficPercent: Int
    public var releases: [ReleaseSpec]
    public var transformer: ComponentSpec?
    /// The release that gets a copy of `mirrorPercent` of the requests (answers discarded).
    public var mirror: String?
    public var mirrorPercent: Int = 0

    /// The MLService annotations that set the mirror (cube-studio's Istio mirror).
    public static let mirrorReleaseKey = "serving.thaw.dev/mirror-release"
    public static let mirrorPercentKey = "serving.thaw.dev/mirror-percent"

    public init(name: String, namespace: String? = nil, defaultRelease: String, canary: String? = nil,
                canaryTrafficPercent: Int = 0, releases: [ReleaseSpec], transformer: ComponentSpec? = nil) {
        self.name = name
        self.namespace = namespace
        self.defaultRelease = defaultRelease
        self.canary = canary
        self.canaryTrafficPercent = canaryTrafficPercent
        self.releases = releases
        self.transformer = transformer
    }

    public func release(named name: String) -> ReleaseSpec? {
        releases.first { $0.name == name }
    }
}
