import MLService

/// What an edit of a running MLService file changes, and whether it can apply while its replicas
/// run: the split (default, canary, canaryTrafficPercent), replica bounds and autoscaling
/// annotations can; anything that changes what a replica runs or which targets exist cannot,
/// since replicas already started from the old file.
public struct LiveEdit: Sendable, Equatable {
    /// Why the edit needs a restart of `thaw up`, one line each; empty when it applies live.
    public var restartReasons: [String] = []
    /// What it changes, one line each, for the log.
    public var changes: [String] = []

    public init(running: MLServiceFile, edited: MLServiceFile) {
        let runningNames = running.services.map(\.name)
        let editedNames = edited.services.map(\.name)
        if runningNames != editedNames {
            restartReasons.append("the MLServices are now \(Self.list(editedNames)), were \(Self.list(runningNames))")
            return
        }
        for (old, new) in zip(running.services, edited.services) {
            compare(old, new)
        }
    }

    private mutating func compare(_ old: MLServiceSpec, _ new: MLServiceSpec) {
        let service = "MLService \(old.name)"
        guard old.releases.map(\.name) == new.releases.map(\.name) else {
            restartReasons.append("\(service): its releases are now \(Self.list(new.releases.map(\.name))), were \(Self.list(old.releases.map(\.name)))")
            return
        }
        guard (old.transformer == nil) == (new.transformer == nil) else {
            restartReasons.append("\(service): a transformer was \(new.transformer == nil ? "removed" : "added")")
            return
        }
        if old.defaultRelease != new.defaultRelease || old.canary != new.canary || old.canaryTrafficPercent != new.canaryTrafficPercent {
            changes.append("\(service): default \(old.defaultRelease), canary \(Self.split(old)) → default \(new.defaultRelease), canary \(Self.split(new))")
        }
        for (oldRelease, newRelease) in zip(old.releases, new.releases) {
            compare(oldRelease.predictor, newRelease.predictor, "\(service), release \(oldRelease.name) predictor")
            if oldRelease.modelPath != newRelease.modelPath || oldRelease.runtime != newRelease.runtime {
                restartReasons.append("\(service), release \(oldRelease.name) predictor: its model or runtime changed")
            }
        }
        if let oldTransformer = old.transformer, let newTransformer = new.transformer {
            compare(oldTransformer, newTransformer, "\(service), transformer")
        }
    }

    private mutating func compare(_ old: ComponentSpec, _ new: ComponentSpec, _ component: String) {
        var unchanged = new
        (unchanged.minReplicas, unchanged.maxReplicas, unchanged.annotations, unchanged.annotationSources) =
            (old.minReplicas, old.maxReplicas, old.annotations, old.annotationSources)
        if unchanged != old {
            var what: [String] = []
            if new.process != old.process { what.append("command, arguments, environment or working directory") }
            if new.readinessPath != old.readinessPath || new.readinessTiming != old.readinessTiming { what.append("readiness probe") }
            if new.containerConcurrency != old.containerConcurrency { what.append("containerConcurrency") }
            if new.logger != old.logger { what.append("logger") }
            restartReasons.append("\(component): its \(what.isEmpty ? "container" : what.joined(separator: " and ")) changed, which replicas already running were started with")
        }
        if old.minReplicas != new.minReplicas || old.maxReplicas != new.maxReplicas {
            changes.append("\(component): replicas \(Self.bounds(old)) → \(Self.bounds(new))")
        }
        let changedKeys = Set(old.annotations.keys).union(new.annotations.keys).filter { old.annotations[$0] != new.annotations[$0] }.sorted()
        // These two are read when a replica starts, not by the autoscaler.
        let startKeys = changedKeys.filter { $0 == LocalPlan.readinessPathKey || $0 == LocalPlan.progressDeadlineKey }
        if !startKeys.isEmpty {
            restartReasons.append("\(component): annotation \(startKeys.joined(separator: ", ")) changed, which replicas already running were started with")
        }
        if !changedKeys.isEmpty {
            changes.append("\(component): annotations \(changedKeys.joined(separator: ", ")) changed")
        }
    }

    private static func split(_ service: MLServiceSpec) -> String {
        service.canary.map { "\($0) \(service.canaryTrafficPercent)%" } ?? "none"
    }

    private static func bounds(_ component: ComponentSpec) -> String {
        "\(component.minReplicas.map(String.init) ?? "1")…\(component.maxReplicas.map(String.init) ?? "∞")"
    }

    private static func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
