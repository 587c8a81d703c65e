import ActivatorCore
import Synchronization
import ThawVocabulary

/// The routing table and the live target states behind it, swapped as one when routes change.
///
/// Requests read it on every event loop; a reload builds the new table aside and swaps it under the
/// lock, keeping each surviving target's state (its queue, its in-flight counts) untouched.
final class RouteDirectory: Sendable {
    struct Snapshot: Sendable {
        var table: RoutingTable
        var targets: [String: TargetRuntime]
    }

    private let current = Mutex(Snapshot(table: RoutingTable(RoutingConfig()), targets: [:]))
    private let draws = Atomic<UInt64>(0)
    /// A sequence of its own for mirroring, so the mirrored share is exact whatever the canary's.
    private let mirrorDraws = Atomic<UInt64>(0)
    /// Bumped on every change, so readers can keep a copy and refresh it only when it moved.
    private let version = Atomic<UInt64>(1)
    private let metrics: ActivatorMetrics
    private let pokes: (any PokeSink)?

    private let slowStartWindow: Int

    init(metrics: ActivatorMetrics, pokes: (any PokeSink)?, slowStartWindow: Int) {
        self.slowStartWindow = slowStartWindow
        self.metrics = metrics
        self.pokes = pokes
    }

    /// A reader's copy of the table: refreshing it costs one atomic load unless routes changed.
    struct Cache {
        fileprivate var version: UInt64 = 0
        fileprivate var snapshot: Snapshot?
        /// Whether any service mirrors: the per-request check when none does.
        fileprivate var hasMirrors = false
    }

    /// The target that serves a request, or nil when nothing routes its host and path.
    func resolve(host: String, path: String, cache: inout Cache) -> TargetRuntime? {
        let latest = version.load(ordering: .acquiring)
        if cache.version != latest || cache.snapshot == nil {
            cache.snapshot = current.withLock { $0 }
            cache.version = latest
            cache.hasMirrors = !(cache.snapshot?.table.mirrors.isEmpty ?? true)
        }
        return resolve(host: host, path: path, in: cache.snapshot!)
    }

    private func resolve(host: String, path: String, in snapshot: Snapshot) -> TargetRuntime? {
        guard let destination = snapshot.table.destination(host: host, path: path) else { return nil }
        let draw = draws.wrappingAdd(1, ordering: .relaxed).oldValue
        return snapshot.targets[RoutingTable.target(for: destination, draw: draw)]
    }

    /// The target that gets a copy of this request, if its service mirrors and this one is drawn.
    /// Costs one check of an empty dictionary when no service mirrors.
    func mirror(host: String, path: String, cache: borrowing Cache) -> TargetRuntime? {
        guard cache.hasMirrors, let snapshot = cache.snapshot,
              let destination = snapshot.table.destination(host: host, path: path) else { return nil }
        let draw = mirrorDraws.wrappingAdd(1, ordering: .relaxed).oldValue
        return snapshot.table.mirrorTarget(for: destination, draw: draw).flatMap { snapshot.targets[$0] }
    }

    var targets: [TargetRuntime] { unorderedTargets.sorted { $0.name < $1.name } }

    /// Every target, in no particular order: for loops that visit all of them often.
    var unorderedTargets: [TargetRuntime] { current.withLock { Array($0.targets.values) } }

    /// Applies a new routing table: new targets start empty, kept ones are updated in place,
    /// dropped ones fail their waiting requests.
    func apply(_ config: RoutingConfig) {
        let previous = current.withLock { $0.targets }
        var targets: [String: TargetRuntime] = [:]
        for target in config.targets {
            if let existing = previous[target.name] {
                existing.apply(target)
                targets[target.name] = existing
            } else {
                targets[target.name] = TargetRuntime(config: target, metrics: metrics.target(target.name), pokes: pokes,
                                                        slowStartWindow: slowStartWindow)
            }
        }
        current.withLock { $0 = Snapshot(table: RoutingTable(config), targets: targets) }
        version.add(1, ordering: .releasing)
        var gone: Set<String> = []
        for (name, runtime) in previous where targets[name] == nil {
            runtime.remove()
            gone.insert(name)
        }
        metrics.forget(gone)
        metrics.services(config.services)
    }
}
