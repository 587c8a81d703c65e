import Autoscaling
import AutoscalerDaemon
import Logging
import ScaleTargets
import ScalingPolicy
import Synchronization
import ThawVocabulary
import TrafficStats

/// A clock the test moves by hand; the loop reads it through its injected `() -> Timestamp`.
final class ManualClock: Sendable {
    private let time: Mutex<Timestamp>

    /// Starts at an even epoch second (2023-11-14T22:13:20Z), as the decision-core tests do.
    init(_ start: Timestamp = Timestamp(seconds: 1_700_000_000)) {
        time = Mutex(start)
    }

    var now: Timestamp { time.withLock { $0 } }

    func advance(by duration: Duration) {
        time.withLock { $0 = $0 + duration }
    }
}

/// A driver that records every request and never changes anything by itself.
final class RecordingDriver: ReplicaDriver {
    struct Call: Equatable, CustomStringConvertible {
        var target: String
        var count: Int
        var description: String { "\(target)=\(count)" }
    }

    private let log = Mutex<[Call]>([])

    func setReplicas(_ count: Int, of target: String) {
        log.withLock { $0.append(Call(target: target, count: count)) }
    }

    func watch(_ update: @escaping @Sendable ([TargetState]) -> Void) async throws {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    var calls: [Call] { log.withLock { $0 } }

    /// The counts asked for `target`, in order.
    func counts(of target: String) -> [Int] { calls.filter { $0.target == target }.map(\.count) }
}

private let knative = "autoscaling.knative.dev/"
private let thaw = "autoscaling.thaw.dev/"

/// A target with a 6 s stable window (1 s panic window), 10 concurrent requests per replica at 100%
/// utilization, and a 2 s scale-to-zero grace period.
func testPolicy(minScale: Int = 0, initialScale: Int = 0) throws -> TargetPolicy {
    var config = AutoscalerConfig()
    config.allowZeroInitialScale = true
    return try TargetPolicy(annotations: [
        knative + "min-scale": String(minScale),
        knative + "initial-scale": String(initialScale),
        knative + "window": "6s",
        knative + "target": "10",
        knative + "target-utilization-percentage": "100",
        thaw + "scale-to-zero-grace-period": "2s",
    ], config: config, containerConcurrency: 0)
}

struct LoopFixture {
    let loop: ScalingLoop
    let driver: RecordingDriver
    let clock: ManualClock
    let metrics: AutoscalerMetrics

    init(_ targets: [ScaledTarget], leading: Bool = true) {
        let driver = RecordingDriver()
        let clock = ManualClock()
        let metrics = AutoscalerMetrics()
        self.driver = driver
        self.clock = clock
        self.metrics = metrics
        loop = ScalingLoop(targets: targets, driver: driver, metrics: metrics,
                           logger: Logger(label: "thaw.test.autoscaler", factory: { _ in SwiftLogNoOpLogHandler() }),
                           clock: { clock.now }, leading: leading)
    }

    /// One second of a target's traffic as its replicas' sidecars report it: `concurrency` split evenly.
    func replicaReports(_ target: String, replicas: Int, concurrency: Double) -> [StatReport] {
        (0..<replicas).map { i in
            StatReport(target: target, source: "\(target)-replica-\(i)", timestamp: clock.now.seconds,
                       averageConcurrency: concurrency / Double(replicas), requestCount: concurrency / Double(replicas))
        }
    }

    func activatorReport(_ target: String, concurrency: Double, queueLength: Int = 0) -> StatReport {
        StatReport(target: target, source: ProxyHeaders.activator, timestamp: clock.now.seconds,
                   averageConcurrency: concurrency, requestCount: concurrency, queueLength: queueLength)
    }

    func status(_ target: String) async -> TargetStatus? {
        await loop.status().first { $0.name == target }
    }
}

/// A target state with `running` endpoints of which the first `ready` are ready.
func targetState(_ name: String, running: Int, ready: Int, failure: String? = nil) -> TargetState {
    let endpoints = (0..<running).map { EndpointAddress(host: "10.0.0.\($0 + 1)", port: 8080) }
    return TargetState(name: name, endpoints: endpoints, ready: Array(endpoints.prefix(ready)), failure: failure)
}
