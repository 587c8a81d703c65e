import ArgumentParser

@main
struct ThawCollector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thaw-collector",
        abstract: "Thaw's collector: reads GPU utilization (and other signals) from Prometheus or dcgm-exporter for the autoscaler.",
        discussion: """
            `run` polls on an interval and pushes each target's value to the autoscaler; `read` prints what \
            Prometheus' remote-read API returns for one selector, to check what the autoscaler sees.
            """,
        subcommands: [Run.self, Read.self]
    )
}
