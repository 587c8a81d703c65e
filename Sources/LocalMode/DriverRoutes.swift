import Activator
import ActivatorCore
import ScaleTargets

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
        try await driver.watch { states in apply(Self.routes(initial, with: states)) }
    }

    static func routes(_ base: RoutingConfig, with states: [TargetState]) -> RoutingConfig {
        var config = base
        let byName = Dictionary(states.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for index in config.targets.indices {
            guard let state = byName[config.targets[index].name] else { continue }
            config.targets[index].endpoints = state.endpoints
            config.targets[index].failure = state.failure
        }
        return config
    }
}
