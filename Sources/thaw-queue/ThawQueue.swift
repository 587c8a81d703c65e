import ArgumentParser

/// Reserved so the package layout shows the architecture; issue #4 builds it.
@main
struct ThawQueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-queue",
        abstract: "Thaw: the sidecar in every replica that measures and limits concurrency.",
        discussion: "Not built yet: this component arrives with issue #4. Use 'thaw simulate' to try the decision core today."
    )

    func run() throws {
        throw ValidationError("not built yet; see --help")
    }
}
