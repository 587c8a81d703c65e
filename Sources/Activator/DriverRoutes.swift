import ScaleTargets
import ThawVocabulary

/// The activator's endpoint source in front of any replica driver: the routes stay as planned, and
/// each target's endpoints and failure follow the driver. The activator cannot tell which driver it is.
public struct DriverRoutes: EndpointSource {
    public let initial: RoutingConfig
    let driver: any ReplicaDriver

    public init(routes: RoutingConfig, driver: any ReplicaDriver) {
        initial = routes
        self.driver = driver
    }

    public func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        try await driver.watch { [initial] states in apply(initial.following(states)) }
    }
}
