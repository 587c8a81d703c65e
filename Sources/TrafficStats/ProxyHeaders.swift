/// Header names both sides of the data path agree on.
public enum ProxyHeaders {
    /// Set by the activator on every request it forwards, so a replica's sidecar can tell proxied
    /// requests apart and the autoscaler does not count them twice (Knative's `K-Proxy-Request`).
    public static let proxiedBy = "Thaw-Proxied-By"
    /// The value of `proxiedBy` the activator sends.
    public static let activator = "activator"
    /// Sent with readiness probes, so a replica's sidecar does not count them as traffic.
    public static let probe = "Thaw-Probe"
}
