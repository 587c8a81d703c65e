import ThawVocabulary

/// Maps a request's `Host` header and path to where it goes, and nothing else: a request that
/// matches no route is refused, so the activator can never be used as an open proxy.
///
/// The per-request lookups are `@inlinable`, so the proxy compiles them into its own request path.
public struct RoutingTable: Sendable {
    /// Where a matched request goes.
    public enum Destination: Sendable, Equatable {
        /// A release's predictor or a transformer, by target name.
        case target(String)
        /// A service host: the split between default and canary is drawn per request.
        case service(name: String, defaultTarget: String, canaryTarget: String?, canaryPercent: Double)
    }

    @usableFromInline
    struct Route: Sendable {
        @usableFromInline var pathPrefix: String
        @usableFromInline var destination: Destination

        init(pathPrefix: String, destination: Destination) {
            self.pathPrefix = pathPrefix
            self.destination = destination
        }
    }

    /// Routes per normalised host, longest path prefix first.
    @usableFromInline var routes: [String: [Route]] = [:]
    /// Each mirrored service's mirror target and share, by service name.
    public private(set) var mirrors: [String: (target: String, percent: Double)] = [:]

    public init(_ config: RoutingConfig) {
        for target in config.targets {
            for host in target.hosts {
                add(host: host, Route(pathPrefix: target.pathPrefix, destination: .target(target.name)))
            }
        }
        for service in config.services {
            if let mirror = service.mirrorTarget, service.mirrorPercent > 0 { mirrors[service.name] = (mirror, service.mirrorPercent) }
            let destination = Destination.service(name: service.name, defaultTarget: service.defaultTarget,
                                                  canaryTarget: service.canaryTarget, canaryPercent: service.canaryTrafficPercent)
            for host in service.hosts {
                add(host: host, Route(pathPrefix: service.pathPrefix, destination: destination))
            }
        }
    }

    /// The target that gets a copy of a request sent to `destination`, when the draw says this one
    /// is copied: a share of `percent` exactly over any run of draws (`CanarySplit`'s sequence).
    public func mirrorTarget(for destination: Destination, draw: UInt64) -> String? {
        guard case .service(let name, _, _, _) = destination, let mirror = mirrors[name],
              CanarySplit.choosesCanary(draw: draw, percent: mirror.percent) else { return nil }
        return mirror.target
    }

    private mutating func add(host: String, _ route: Route) {
        routes[HostName.normalized(host), default: []].append(route)
        routes[HostName.normalized(host)]!.sort { $0.pathPrefix.utf8.count > $1.pathPrefix.utf8.count }
    }

    /// Every host the table answers for, for error messages and status output.
    public var hosts: [String] { routes.keys.sorted() }

    /// The route for a request, or nil when no host and path prefix match.
    @inlinable
    public func destination(host: String, path: String) -> Destination? {
        guard let candidates = routes[HostName.normalized(host)] else { return nil }
        return candidates.first { Self.matches(path, prefix: $0.pathPrefix) }?.destination
    }

    /// Prefixes match whole path segments, as a Kubernetes Ingress `Prefix` path does: `/v2` matches
    /// `/v2`, `/v2/models` and `/v2?x`, not `/v2beta`.
    @inlinable
    static func matches(_ path: String, prefix: String) -> Bool {
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") { return true }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        guard let next = rest.first else { return true }
        return next == UInt8(ascii: "/") || next == UInt8(ascii: "?")
    }

    /// Resolves a destination to one target. `draw` is the request's number in a sequence shared by
    /// all requests (any increasing counter); see `CanarySplit`.
    @inlinable
    public static func target(for destination: Destination, draw: UInt64) -> String {
        switch destination {
        case .target(let name):
            return name
        case .service(_, let defaultTarget, let canaryTarget, let percent):
            guard let canaryTarget, CanarySplit.choosesCanary(draw: draw, percent: percent) else { return defaultTarget }
            return canaryTarget
        }
    }
}

/// Decides which requests of a service go to its canary.
///
/// A random draw per request wanders: over 1,000 requests a 20 % split lands anywhere from about 17.5 %
/// to 22.5 %. The golden-ratio sequence `frac(n x 0.618...)` instead spreads canary requests evenly over
/// any window, so the share is within a request or two of the configured percentage at every point,
/// with no bursts of consecutive canary requests, and needs only a shared counter.
public enum CanarySplit {
    @usableFromInline static let goldenFraction = 0.6180339887498949

    @inlinable
    public static func choosesCanary(draw: UInt64, percent: Double) -> Bool {
        guard percent > 0 else { return false }
        guard percent < 100 else { return true }
        let position = (Double(draw % (1 << 40)) * goldenFraction).truncatingRemainder(dividingBy: 1)
        return position * 100 < percent
    }
}
