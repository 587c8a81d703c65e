import ArgumentParser

/// The `thaw` command line: the user-facing entry point to every Thaw tool.
@main
struct Thaw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw",
        abstract: "Thaw scales ML inference services from zero to many replicas and back.",
        discussion: """
            Components: thaw-activator (buffering proxy), thaw-queue (replica sidecar), \
            thaw-autoscaler (decider daemon), thaw-collector (Prometheus and GPU signals).
            """,
        subcommands: [Up.self, Status.self, Demo.self, Simulate.self, Render.self]
    )
}
