import ActivatorCore
import ControlHTTP
import Logging
import NIOCore
import ThawVocabulary
import TrafficStats

/// Probes every endpoint that has not yet passed its readiness check, tens of milliseconds apart,
/// so a request buffered during a cold start is forwarded within milliseconds of the model loading.
///
/// An endpoint gets traffic only after its probe answers 2xx: a replica whose process is up but
/// whose model is still loading answers its readiness path with an error and stays out of rotation.
struct ReadinessProber: Sendable {
    static let interval: TimeAmount = .milliseconds(25)
    static let probeTimeout: TimeAmount = .milliseconds(500)

    let directory: RouteDirectory
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            while !Task.isCancelled {
                for target in directory.targets {
                    let (due, path) = target.endpointsToProbe()
                    for endpoint in due {
                        group.addTask { await probe(endpoint, path: path, of: target) }
                    }
                }
                try await Task.sleep(for: .milliseconds(Self.interval.nanoseconds / 1_000_000))
            }
        }
    }

    private func probe(_ endpoint: EndpointAddress, path: String, of target: TargetRuntime) async {
        var ready = false
        do {
            let response = try await HTTPCall.perform(
                on: eventLoopGroup.any(), to: endpoint, path: path,
                headers: [(ProxyHeaders.probe, "activator")], timeout: Self.probeTimeout)
            ready = (200..<300).contains(response.status)
            if ready {
                logger.info("endpoint passed its readiness probe", metadata: ["target": "\(target.name)", "endpoint": "\(endpoint)"])
            }
        } catch {}
        if !ready { try? await Task.sleep(for: .milliseconds(Self.interval.nanoseconds / 1_000_000)) }
        target.probeFinished(endpoint, ready: ready)
    }
}
