import ConfigFields
import ActivatorCore
import Foundation
import Logging
import RoutingFile
import ThawVocabulary

/// Where the activator learns its routes and each target's replica endpoints.
///
/// The static file below is one source; the local-process driver and Kubernetes are others. The
/// activator only ever sees `RoutingConfig` values, so it cannot tell them apart.
public protocol EndpointSource: Sendable {
    /// The routing table to start with.
    var initial: RoutingConfig { get }
    /// Calls `apply` with every later change until cancelled.
    func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws
}

/// A routing file, reloaded when its contents change. A broken edit is logged and ignored, so a
/// typo never takes routes away from running traffic.
public struct RoutingFileSource: EndpointSource {
    public let path: String
    public let initial: RoutingConfig
    let pollInterval: Duration
    let logger: Logger
    let onReload: @Sendable (Bool) -> Void

    /// Reads the file once; throws the file's first problem so startup fails loudly.
    public init(path: String, pollInterval: Duration = .milliseconds(200), logger: Logger,
                onReload: @escaping @Sendable (Bool) -> Void = { _ in }) throws {
        self.path = path
        self.pollInterval = pollInterval
        self.logger = logger
        self.onReload = onReload
        initial = try RoutingConfig.load(contentsOf: path)
    }

    public func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        // Bounded like every file Thaw reads: a routing file replaced by something huge is an error, not a stall.
        func read() throws -> String { try InputFile.text(at: path, what: "the routing file") }
        var last = try? read()
        var unreadable = false
        while true {
            try await Task.sleep(for: pollInterval)
            let text: String
            do {
                text = try read()
            } catch {
                // Removed, replaced by a directory, or no longer readable: said once, routes kept.
                if !unreadable {
                    unreadable = true
                    onReload(false)
                    logger.error("the routing file cannot be read; keeping the previous routes until it can", metadata: [
                        "file": "\(path)", "error": "\(Self.why(error, path: path))"])
                }
                continue
            }
            if unreadable {
                unreadable = false
                logger.notice("the routing file can be read again", metadata: ["file": "\(path)"])
            }
            guard text != last else { continue }
            last = text
            do {
                let config = try RoutingConfig.parse(text, file: path)
                apply(config)
                onReload(true)
                logger.info("routing file reloaded", metadata: ["file": "\(path)", "targets": "\(config.targets.count)", "services": "\(config.services.count)"])
            } catch {
                onReload(false)
                logger.error("routing file has an error; keeping the previous routes until it is fixed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension RoutingFileSource {
    /// Why a path cannot be read, in words: missing, a directory, or the system's reason.
    static func why(_ error: any Error, path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "it no longer exists" }
        if isDirectory.boolValue { return "it is now a directory" }
        return (error as? ConfigError)?.message ?? "\(error)"
    }
}

/// Routes that never change: a sidecar's one target and its model server.
public struct FixedRoutes: EndpointSource {
    public let initial: RoutingConfig

    public init(_ config: RoutingConfig) { initial = config }

    public func watch(_ apply: @escaping @Sendable (RoutingConfig) -> Void) async throws {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
