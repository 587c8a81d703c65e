/// The rules that turn a desired count into a replica count: bounds, initial scale and the
/// conditions under which a target may really go to zero.
public struct ReplicaPolicy: Sendable, Equatable {
    /// Fewest replicas; 0 allows scale to zero. Thaw's default is 1 (MLService's `minReplicas`).
    public var minScale: Int
    /// Most replicas; 0 means no upper bound.
    public var maxScale: Int
    /// Replicas a new target starts with, held until that many were ready once.
    public var initialScale: Int
    public var enableScaleToZero: Bool
    /// A target must have been active this long before it may be marked inactive.
    public var stableWindow: Duration
    /// How long the activator must have been in the request path before the last replica goes.
    public var scaleToZeroGracePeriod: Duration
    /// How long the last replica is kept after the target became inactive.
    public var scaleToZeroPodRetention: Duration
    /// A target that never became ready within this time is given up and scaled to zero.
    public var activationTimeout: Duration
    public var reachable: Bool
    /// True when the target burst capacity is -1: the activator is always in the path, so it
    /// need not be confirmed before scaling to zero.
    public var activatorAlwaysInPath: Bool
    /// True when the decision rule has its own idle window (Thaw's policy keeps a replica warm as
    /// long as its learned window says): an idle target is marked inactive at once instead of
    /// after having been active for a stable window.
    public var idleWindowDecided: Bool = false

    public init(
        minScale: Int = 1,
        maxScale: Int = 0,
        initialScale: Int = 1,
        enableScaleToZero: Bool = true,
        stableWindow: Duration = .seconds(60),
        scaleToZeroGracePeriod: Duration = .seconds(30),
        scaleToZeroPodRetention: Duration = .zero,
        activationTimeout: Duration = .seconds(630),
        reachable: Bool = true,
        activatorAlwaysInPath: Bool = false
    ) {
        self.minScale = minScale
        self.maxScale = maxScale
        self.initialScale = initialScale
        self.enableScaleToZero = enableScaleToZero
        self.stableWindow = stableWindow
        self.scaleToZeroGracePeriod = scaleToZeroGracePeriod
        self.scaleToZeroPodRetention = scaleToZeroPodRetention
        self.activationTimeout = activationTimeout
        self.reachable = reachable
        self.activatorAlwaysInPath = activatorAlwaysInPath
    }

    /// The effective lower bound: an unreachable target needs no replicas.
    public var effectiveMinScale: Int { reachable ? minScale : 0 }

    /// Clamps `count` into `[min, max]`, where a max of 0 means no upper bound.
    public static func clamp(_ count: Int, min lower: Int, max upper: Int) -> Int {
        if count < lower { return lower }
        if upper != 0 && count > upper { return upper }
        return count
    }
}
