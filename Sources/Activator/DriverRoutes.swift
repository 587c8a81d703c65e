import ScaleTargets
import ThawVocabulary

/// The activator's endpoint source in front of any replica driver: the planned routes (fixed, or
/// following an edited file), with each target's endpoints and failure as the driver reports them.
/// The activator cannot tell which driver it is.
public struct DriverRoutes: EndpointSource {
    let planned: Followed<RoutingConfig>
    let driver: any ReplicaDriver

    public init(routes: RoutingConfig, driver: any ReplicaDriver) {
        self.init(routes: Followed(routes), driver: driver)
    }

    public init(routes: Followed<RoutingConfig>, driver: any ReplicaDriver) {
        planned = routes
        self.driver = driver
    }

    public var initial: RoutingConfig { planned.value }

    public func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        try await driver.watchRoutes(planned, apply)
    }
}
