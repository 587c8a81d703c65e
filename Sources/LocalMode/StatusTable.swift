import AutoscalerDaemon
import Foundation

/// The per-service table `thaw up` keeps on screen and `thaw status` prints: for each service its
/// address, then its transformer and each release with requested/ready replicas, rps, queue and panic.
public enum StatusTable {
    public static func render(_ run: LocalCluster.RunFile, targets: [TargetStatus], now: Date = Date()) -> String {
        let byName = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var lines: [String] = []
        let clock = DateFormatter()
        clock.dateFormat = "HH:mm:ss"
        lines.append("thaw up: activator \(run.addresses.activator), autoscaler \(run.addresses.autoscaler)   \(clock.string(from: now))")
        for service in run.services {
            lines.append("")
            lines.append("service \(service.name): http://127.0.0.1:\(service.port)  (or Host: \(service.host) on \(run.addresses.activator))")
            lines.append("  " + row("TARGET", "REPLICAS", "READY", "RPS", "QUEUE", "PANIC", "STATE"))
            var rows: [(String, String)] = []
            if let transformer = service.transformer { rows.append(("transformer", transformer)) }
            for release in service.releases {
                let share = release.role == "idle" ? "no traffic" : "\(release.trafficPercent)%\(release.role == "canary" ? " canary" : "")"
                rows.append(("\(release.release) (\(share))", release.target))
            }
            for (label, target) in rows {
                guard let status = byName[target] else {
                    lines.append("  " + row(label, "?", "?", "-", "-", "-", "unknown to the autoscaler"))
                    continue
                }
                var state = status.activity
                if status.holding { state += ", holding: no stats" }
                // Thaw's policy says when it runs replicas no request needs now, and why.
                if let kept = status.keptWarm, kept > 0 { state += ", \(kept) kept warm" }
                if let prewarmed = status.prewarmed, prewarmed > 0 { state += ", \(prewarmed) pre-warmed" }
                lines.append("  " + row(label, String(status.requested), String(status.ready), String(format: "%.1f", status.rps),
                                        String(status.queueLength), status.panicking ? "yes" : "-", state))
                if let failure = status.failure {
                    lines.append("    FAILED: " + (failure.split(separator: "\n").first.map(String.init) ?? failure))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func row(_ columns: String...) -> String {
        let widths = [22, 9, 6, 8, 6, 6, 0]
        return zip(columns, widths).map { column, width in
            width == 0 ? column : column.padding(toLength: max(width, column.count + 1), withPad: " ", startingAt: 0)
        }.joined()
    }

    /// One line per target, for logs when stdout is not a terminal.
    public static func summaryLine(_ targets: [TargetStatus]) -> String {
        targets.map { "\($0.name) \($0.ready)/\($0.requested)\($0.panicking ? " panic" : "")\($0.queueLength > 0 ? " q=\($0.queueLength)" : "")" }
            .joined(separator: " · ")
    }
}
