import Foundation
import LocalMode
import ScaleTargets
import ServiceLifecycle

/// The live table on the terminal (redrawn every second), or a summary line in the log every few
/// seconds when stdout is not a terminal.
struct StatusView: Service {
    let cluster: InProcessCluster
    let runFile: Followed<LocalCluster.RunFile>
    let events: EventLog?
    let terminal: Bool

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var lastLine = ""
            var lastPrinted = Date.distantPast
            while true {
                let targets = await cluster.autoscaler.loop.status()
                if terminal {
                    var screen = "\u{1B}[H\u{1B}[2J" + StatusTable.render(runFile.value, targets: targets)
                    if let events, !events.recentLines.isEmpty {
                        screen += "\n\nrecent events (full log: \(runFile.value.logDirectory)/thaw.log):\n  " + events.recentLines.joined(separator: "\n  ")
                    }
                    print(screen + "\n\nCtrl-C stops everything.")
                } else {
                    let line = StatusTable.summaryLine(targets)
                    if line != lastLine || Date().timeIntervalSince(lastPrinted) > 30 {
                        print("status: " + line)
                        lastLine = line
                        lastPrinted = Date()
                    }
                }
                fflush(nil)
                try await Task.sleep(for: .seconds(1))
            }
        }
        if terminal { print("\nshutting down: draining requests and stopping replicas (log: \(runFile.value.logDirectory)/thaw.log)") }
    }
}
