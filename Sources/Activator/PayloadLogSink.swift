import ActivatorCore
import ControlHTTP
import Foundation
import Logging
import NIOCore
import Prometheus
import DequeModule
import Synchronization
import ThawVocabulary

/// Where a sidecar's payload logger sends, and what it keeps (the MLService and KServe `logger`).
public struct PayloadLogSettings: Sendable {
    /// The sink, `http://HOST:PORT/PATH`.
    public var url: String
    public var mode: PayloadEvent.Mode
    public var origin: PayloadEvent.Origin
    /// Events waiting to be sent, and their bytes; past either, new ones are dropped (`reason="queue_full"`).
    public var queueLimit = 1000
    public var queueBytes = 64 << 20
    /// A body over this is not logged (`reason="body_too_large"`).
    public var maxBodyBytes = 1 << 20
    /// Events posted at once.
    public var senders = 4

    public init(url: String, mode: PayloadEvent.Mode, origin: PayloadEvent.Origin) {
        self.url = url
        self.mode = mode
        self.origin = origin
    }

    /// The sink's address and path, or nil when the URL is not `http://HOST:PORT[/PATH]`.
    public var sink: (endpoint: EndpointAddress, path: String)? {
        guard let url = URL(string: url), url.scheme == "http", let host = url.host else { return nil }
        let path = url.path.isEmpty ? "/" : url.path + (url.query.map { "?" + $0 } ?? "")
        return (EndpointAddress(host: host, port: url.port ?? 80), path)
    }
}

/// Sends payload events to the sink without ever holding up a request: the data path only offers
/// an event to a bounded queue (dropping it, counted, when the queue is full); a few senders post
/// them, retrying a failed post with backoff, then dropping it (counted). Nothing goes to disk.
final class PayloadLogSink: Sendable {
    let settings: PayloadLogSettings
    private let endpoint: EndpointAddress
    private let path: String
    private let queue = Mutex<(events: Deque<PayloadEvent>, bytes: Int)>(([], 0))
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let sent: Prometheus.Counter
    private let dropped: [String: Prometheus.Counter]
    private let logger: Logger
    private let group: any EventLoopGroup
    static let retryDelays: [Duration] = [.milliseconds(100), .milliseconds(500)]

    init?(settings: PayloadLogSettings, metrics: ActivatorMetrics, group: any EventLoopGroup, logger: Logger) {
        guard let sink = settings.sink else { return nil }
        self.group = group
        self.settings = settings
        (endpoint, path) = sink
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let name = { ActivatorMetrics.name($0, $1, $2, namespace: metrics.namespace) }
        sent = metrics.registry.makeCounter(descriptor: name("payload_log_events", "total", "Payload events delivered to the logger's sink."))
        let drops = name("payload_log_dropped", "total", "Payload events not delivered, by reason: the queue was full, the body was over the limit, or the sink kept failing.")
        dropped = Dictionary(uniqueKeysWithValues: ["queue_full", "body_too_large", "incomplete", "sink_failed"].map { reason in
            (reason, metrics.registry.makeCounter(descriptor: drops, labels: [("reason", reason)]))
        })
        self.logger = logger
    }

    /// A capture for a new exchange, when its bodies are to be logged.
    func capture(requestContentType: String?) -> PayloadCapture {
        PayloadCapture(id: UUID().uuidString.lowercased(), limit: settings.maxBodyBytes, requestContentType: requestContentType,
                       keepsRequest: settings.mode.logs(.request), keepsResponse: settings.mode.logs(.response))
    }

    /// Called by the data path when a body is complete: queued, or dropped and counted. Never waits.
    func offer(_ kind: PayloadEvent.Kind, from capture: PayloadCapture) {
        guard settings.mode.logs(kind) else { return }
        let event: PayloadEvent
        switch kind == .request ? capture.requestEvent : capture.responseEvent {
        case .success(let made): event = made
        case .failure(let reason):
            dropped[reason.label]!.increment()
            return
        }
        let queued = queue.withLock { queue in
            guard queue.events.count < settings.queueLimit, queue.bytes + event.body.count <= settings.queueBytes else { return false }
            queue.events.append(event)
            queue.bytes += event.body.count
            pending.add(1, ordering: .relaxed)
            return true
        }
        if queued { wake.yield() } else { dropped["queue_full"]!.increment() }
    }

    func run() async {
        for await _ in wakes {
            while true {
                let batch = queue.withLock { queue -> [PayloadEvent] in
                    var batch: [PayloadEvent] = []
                    while batch.count < settings.senders, let event = queue.events.popFirst() {
                        queue.bytes -= event.body.count
                        batch.append(event)
                    }
                    return batch
                }
                if batch.isEmpty { break }
                await withTaskGroup(of: Void.self) { group in
                    for event in batch {
                        group.addTask {
                            await self.deliver(event)
                            self.pending.subtract(1, ordering: .releasing)
                        }
                    }
                }
            }
        }
    }

    /// Events queued or being sent.
    private let pending = Atomic(0)

    /// On shutdown, after the last request: lets the senders deliver what is queued, for at most
    /// `limit` (a scale-down must not lose the last responses' events, nor wait on a dead sink).
    func flush(within limit: Duration) async {
        let end = ContinuousClock.now.advanced(by: limit)
        while pending.load(ordering: .acquiring) > 0, ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func deliver(_ event: PayloadEvent) async {
        for attempt in 0...Self.retryDelays.count {
            if attempt > 0 { try? await Task.sleep(for: Self.retryDelays[attempt - 1]) }
            if Task.isCancelled { break }
            do {
                let response = try await HTTPCall.perform(on: group.any(), to: endpoint, method: .POST, path: path,
                                                          headers: event.headers(from: settings.origin), body: event.body, timeout: .seconds(5))
                if (200..<300).contains(response.status) {
                    sent.increment()
                    return
                }
            } catch {}
        }
        dropped["sink_failed"]!.increment()
        logger.debug("payload event dropped: the sink did not take it", metadata: ["id": "\(event.id)", "sink": "\(settings.url)"])
    }
}

struct PayloadLogError: Error, CustomStringConvertible {
    let description: String
}
