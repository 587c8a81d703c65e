import ArgumentParser

/// Reserved so the package layout shows the architecture; issue #5 builds it.
@main
struct ThawCollector: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-collector",
        abstract: "Thaw: reads Prometheus remote-read and DCGM GPU utilization for the autoscaler.",
        discussion: "Not built yet: this component arrives with issue #5. Use 'thaw simulate' to try the decision core today."
    )

    func run() throws {
        throw ValidationError("not built yet; see --help")
    }
}
