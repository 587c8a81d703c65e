import AutoscalerDaemon
import Foundation
import Logging
import MLService
import RoutingFile
import ScaleTargets
import ServiceLifecycle
import ThawVocabulary

/// `thaw up`'s MLService file, followed while it runs: an edit of the split, the replica bounds or
/// the autoscaling annotations applies at once (the activator routes on the new split, the
/// autoscaler decides on the new policies); an edit that changes what replicas run, or which
/// targets exist, is reported and left until a restart; a broken edit is reported with its line,
/// and what runs stays as it was.
///
/// The file is looked at once a second (its size and modification time; it is read only when those
/// change): editors replace a file by renaming a new one over it, which a watch on the old file's
/// inode would miss.
public struct ServiceFileFollower: Service {
    public static let interval: Duration = .seconds(1)

    let path: String
    let running: MLServiceFile
    let plan: LocalPlan
    let options: LocalCluster.Options
    let routes: Followed<RoutingConfig>
    let targets: Followed<[ScaledTarget]>
    let applied: @Sendable (LocalPlan) -> Void
    let logger: Logger
    /// The file as it was when `running` was read from it (near enough: just after).
    let loaded: Stamp?

    /// - Parameter applied: called with each plan applied, to keep the run file in step.
    public init(path: String, running: MLServiceFile, scaling: LocalCluster.Scaling, options: LocalCluster.Options, logger: Logger,
                applied: @escaping @Sendable (LocalPlan) -> Void = { _ in }) {
        self.path = path
        self.running = running
        plan = scaling.plan
        self.options = options
        routes = scaling.routes
        targets = scaling.targets
        self.applied = applied
        self.logger = logger
        loaded = Stamp(path: path)
    }

    /// What identifies one version of the file without reading it.
    struct Stamp: Equatable {
        var size: Int
        var modified: Date

        init?(path: String) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date else { return nil }
            (self.size, self.modified) = (size, modified)
        }
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { [self] in
            var (running, plan, seen) = (running, plan, loaded)
            while true {
                try await Task.sleep(for: Self.interval)
                let stamp = Stamp(path: path)
                guard stamp != seen else { continue }
                seen = stamp
                if let next = follow(running: running, plan: plan) {
                    (running, plan) = next
                }
            }
        }
    }

    /// Reads the edited file and applies it if it can; nil when nothing was applied.
    func follow(running: MLServiceFile, plan: LocalPlan) -> (MLServiceFile, LocalPlan)? {
        let edited: MLServiceFile
        do {
            edited = try MLServiceFile.load(contentsOf: path)
        } catch {
            logger.error("the edited file is not applied; what runs stays as it was", metadata: ["file": "\(path)", "error": "\(error)"])
            return nil
        }
        let edit = LiveEdit(running: running, edited: edited)
        guard edit.restartReasons.isEmpty else {
            logger.warning("the edited file is not applied: restart thaw up for these; what runs stays as it was", metadata: [
                "file": "\(path)", "needs a restart": "\(edit.restartReasons.joined(separator: "; "))"])
            return nil
        }
        guard !edit.changes.isEmpty else { return nil }
        let next: LocalPlan
        do {
            // Every host keeps its port: the services and transformers are the same ones.
            let ports = Dictionary(plan.hostPorts.map { ($0.host, $0.port) }, uniquingKeysWith: { first, _ in first })
            next = try LocalPlan(file: edited, config: options.config, timeoutSeconds: options.timeoutSeconds, pinnedPorts: ports) {
                throw LocalPlanError("a host without a port")
            }
        } catch {
            logger.error("the edited file is not applied; what runs stays as it was", metadata: ["file": "\(path)", "error": "\(error)"])
            return nil
        }
        for warning in next.warnings where !plan.warnings.contains(warning) { logger.warning("\(warning)") }
        routes.set(next.routes)
        targets.set(next.scaled)
        applied(next)
        logger.notice("applied the edited file", metadata: ["file": "\(path)", "changes": "\(edit.changes.joined(separator: "; "))"])
        return (edited, next)
    }
}
