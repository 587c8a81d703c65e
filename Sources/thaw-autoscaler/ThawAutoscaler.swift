import ArgumentParser

/// Reserved so the package layout shows the architecture; issue #4 builds it.
@main
struct ThawAutoscaler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-autoscaler",
        abstract: "Thaw: the autoscaler daemon that decides and applies replica counts.",
        discussion: "Not built yet: this component arrives with issue #4. Use 'thaw simulate' to try the decision core today."
    )

    func run() throws {
        throw ValidationError("not built yet; see --help")
    }
}
