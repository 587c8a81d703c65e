import Foundation
import NIOCore
import Synchronization

/// Every open client connection of the proxy ports, so their number stays under a cap below the
/// descriptor limit: a flood of idle connections must never leave the process without descriptors
/// (at exhaustion it stopped serving, and the runtime's worker monitor could abort it).
///
/// At the cap, a new connection takes the place of the connection that has idled longest, as
/// nginx reuses its idle keep-alive connections; when none idles, the new one is closed at once.
/// Each connection marks itself idle or busy with one atomic store; only an accept at the cap looks
/// at them all.
final class ClientConnections: Sendable {
    /// A connection's idle mark: when it began to idle (monotonic nanoseconds), 0 while busy.
    final class Mark: Sendable {
        let idleSince = Atomic<UInt64>(0)
        func idle() { idleSince.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
        func busy() { idleSince.store(0, ordering: .relaxed) }
    }

    let cap: Int
    private let open = Mutex<[ObjectIdentifier: (channel: any Channel, mark: Mark)]>([:])
    let metrics: ActivatorMetrics.Connections

    init(cap: Int, metrics: ActivatorMetrics.Connections) {
        self.cap = cap
        self.metrics = metrics
    }

    var count: Int { open.withLock { $0.count } }

    /// Admits a new connection: its mark, or nil when it was refused (and is being closed).
    func admit(_ channel: any Channel) -> Mark? {
        let mark = Mark()
        let id = ObjectIdentifier(channel)
        let (admitted, evicted): (Bool, (any Channel)?) = open.withLock { open in
            var evicted: (any Channel)?
            if open.count >= cap {
                // The longest idle connection gives way; a busy one never does.
                var oldest: (id: ObjectIdentifier, since: UInt64)?
                for (key, entry) in open {
                    let since = entry.mark.idleSince.load(ordering: .relaxed)
                    if since > 0, since < oldest?.since ?? .max { oldest = (key, since) }
                }
                guard let oldest else { return (false, nil) }
                evicted = open.removeValue(forKey: oldest.id)?.channel
            }
            open[id] = (channel, mark)
            return (true, evicted)
        }
        guard admitted else {
            metrics.refused.increment()
            channel.close(promise: nil)
            return nil
        }
        if let evicted {
            metrics.evicted.increment()
            evicted.close(promise: nil)
        }
        channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: id) } }
        return mark
    }

    /// Tells every open connection the activator is draining: HTTP/2 ones send GOAWAY.
    func notifyDrain() {
        let channels = open.withLock { $0.values.map(\.channel) }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(DrainNotice()) }
    }

    /// Raises the soft limit on open descriptors to the hard one; returns the soft limit now.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(min(limit.rlim_cur, 1 << 20))  // unlimited reads as the largest value
    }

    /// The default cap: half of the descriptors left after a reserve (each client connection may
    /// hold one to a replica, and the admin port, probes and files need some).
    static func defaultCap(descriptors: Int) -> Int {
        max(16, (descriptors - 256) / 2)
    }
}
