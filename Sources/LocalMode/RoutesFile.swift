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
    let routes: RoutingConfig
    let driver: any ReplicaDriver
    let logger: Logger

    public init(path: String, routes: RoutingConfig, driver: any ReplicaDriver, logger: Logger) {
        self.path = path
        self.routes = routes
        self.driver = driver
        self.logger = logger
    }

    /// Writes the table once, before anything is running.
    public func writeInitial() throws {
        try write(routes)
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await driver.watch { states in
                do {
                    try write(routes.following(states))
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
