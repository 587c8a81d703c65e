import ArgumentParser

/// Reserved so the package layout shows the architecture; issue #3 builds it.
@main
struct ThawActivator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-activator",
        abstract: "Thaw: the buffering, load-balancing reverse proxy in front of every model release.",
        discussion: "Not built yet: this component arrives with issue #3. Use 'thaw simulate' to try the decision core today."
    )

    func run() throws {
        throw ValidationError("not built yet; see --help")
    }
}
