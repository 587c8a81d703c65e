/// Header names both sides of the data path agree on.
public enum ProxyHeaders {
    /// Set by the activator on every request it forwards, so a replica's sidecar can tell proxied
    /// requests apart and the autoscaler does not count them twice (Knative's `K-Proxy-Request`).
    public static let proxiedBy = "Thaw-Proxied-By"
    /// The value of `proxiedBy` the activator sends, and the `source` of its stats and pokes (with
    /// `/INSTANCE` after it when several activators run: `activator/thaw-activator-5d8f-abcde`).
    public static let activator = "activator"

    /// Whether a stat or poke comes from an activator (any replica of it), not a replica's sidecar.
    public static func isActivator(_ source: String) -> Bool {
        source == activator || source.hasPrefix(activator + "/")
    }
    /// Sent with readiness probes, so a replica's sidecar does not count them as traffic.
    public static let probe = "Thaw-Probe"
}
