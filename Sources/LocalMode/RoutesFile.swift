import Foundation
import Logging
import RoutingFile
import ScaleTargets
import ServiceLifecycle
import ThawVocabulary

/// Keeps a routing file in step with the driver, for an activator running as its own process
/// (`thaw-activator --config FILE`), which reloads it on change. Written whole to a temporary
/// file and renamed, so the activator never reads half a table.
public struct RoutesFile: Service {
    let path: String
    let routes: Followed<RoutingConfig>
    let driver: any ReplicaDriver
    let logger: Logger

    /// - Parameter routes: the planned routes, changed when an edit of the MLService file applies.
    public init(path: String, routes: Followed<RoutingConfig>, driver: any ReplicaDriver, logger: Logger) {
        self.path = path
        self.routes = routes
        self.driver = driver
        self.logger = logger
    }

    /// Writes the table once, before anything is running.
    public func writeInitial() throws {
        try write(routes.value)
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await driver.watchRoutes(routes) { config in
                do {
                    try write(config)
                } catch {
                    logger.error("cannot write the routing file", metadata: ["file": "\(path)", "error": "\(error)"])
                }
            }
        }
        // On shutdown the driver stops before this service and ends the watch (its last write lists
        // no endpoints); a service group expects this one to return only when its own turn comes.
        try? await gracefulShutdown()
    }

    /// Atomically (a temporary file renamed over the old one), so the activator never reads half a file.
    private func write(_ config: RoutingConfig) throws {
        try config.fileText.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
