import ActivatorCore
import Synchronization
import ControlHTTP
import Logging
import NIOCore
import ThawVocabulary
import TrafficStats

/// Probes every endpoint that has not yet passed its readiness check, tens of milliseconds apart,
/// so a request buffered during a cold start is forwarded within milliseconds of the model loading.
///
/// At most `maxInFlight` probes run at once, and each round starts where the last one stopped: an
/// activator that learns 30,000 endpoints at once (a large cluster at startup) probes them in a
/// steady stream instead of opening 30,000 connections and tasks together.
///
/// An endpoint gets traffic only after its probe answers 2xx: a replica whose process is up but
/// whose model is still loading answers its readiness path with an error and stays out of rotation.
struct ReadinessProber: Sendable {
    static let interval: TimeAmount = .milliseconds(25)
    static let probeTimeout: TimeAmount = .milliseconds(500)
    static let maxInFlight = 256

    let directory: RouteDirectory
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    final class InFlight: Sendable {
        let count = Atomic(0)
    }

    func run() async throws {
        let inFlight = InFlight()
        var start = 0
        try await withThrowingDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var room = Self.maxInFlight - inFlight.count.load(ordering: .relaxed)
                let targets = directory.unorderedTargets
                var visited = 0
                while room > 0, visited < targets.count {
                    let target = targets[(start + visited) % targets.count]
                    visited += 1
                    let (due, path) = target.endpointsToProbe(limit: room)
                    let grpc = target.speaksHTTP2
                    room -= due.count
                    inFlight.count.add(due.count, ordering: .relaxed)
                    for endpoint in due {
                        group.addTask {
                            await probe(endpoint, path: path, grpc: grpc, of: target)
                            inFlight.count.subtract(1, ordering: .relaxed)
                        }
                    }
                }
                // The next round starts after the last target looked at, so none waits behind the others.
                start = targets.isEmpty ? 0 : (start + visited) % targets.count
                try await Task.sleep(for: .milliseconds(Self.interval.nanoseconds / 1_000_000))
            }
        }
    }

    /// An HTTP/1.1 GET answered 2xx, or for an h2c target a gRPC call of the readiness path
    /// answered OK and ready (`GRPCProbeCall.Response.isReady`).
    private func probe(_ endpoint: EndpointAddress, path: String, grpc: Bool, of target: TargetRuntime) async {
        var ready = false
        do {
            if grpc {
                ready = try await GRPCProbeCall.perform(on: eventLoopGroup.any(), to: endpoint, path: path,
                                                        headers: [(ProxyHeaders.probe, "activator")], timeout: Self.probeTimeout).isReady
            } else {
                let response = try await HTTPCall.perform(
                    on: eventLoopGroup.any(), to: endpoint, path: path,
                    headers: [(ProxyHeaders.probe, "activator")], timeout: Self.probeTimeout)
                ready = (200..<300).contains(response.status)
            }
            if ready {
                logger.info("endpoint passed its readiness probe", metadata: ["target": "\(target.name)", "endpoint": "\(endpoint)"])
            }
        } catch {}
        if !ready { try? await Task.sleep(for: .milliseconds(Self.interval.nanoseconds / 1_000_000)) }
        target.probeFinished(endpoint, ready: ready)
    }
}
