import Foundation

/// A live copy of one collection (every Deployment of a namespace, say): it lists, then watches,
/// and follows `ListWatchCursor` through watch timeouts, 410 Gone and failures.
///
/// Blocking: run it on a thread of its own. `watchSeconds` is the server-side timeout of each watch,
/// and so the longest it takes to notice `isCancelled` while nothing changes.
public struct CollectionMirror: Sendable {
    public let client: KubernetesClient
    /// The collection's path, e.g. `/apis/apps/v1/namespaces/ml/deployments`.
    public let path: String
    /// Extra query, e.g. `labelSelector=app%3Ddigits`.
    public let query: String
    public let watchSeconds: Int

    public init(client: KubernetesClient, path: String, query: String = "", watchSeconds: Int = 300) {
        self.client = client
        self.path = path
        self.query = query
        self.watchSeconds = watchSeconds
    }

    /// Objects by `namespace/name` (or `name`), as JSON.
    public typealias Objects = [String: [UInt8]]

    /// Calls `changed` with the whole collection after the first list and after every change, until
    /// `isCancelled` says so. `failed` hears each failure before the wait that follows it.
    public func run(cursor: ListWatchCursor = ListWatchCursor(), isCancelled: @escaping () -> Bool,
                    failed: (KubernetesError) -> Void = { _ in }, changed: (Objects) -> Void) {
        var cursor = cursor
        var objects: Objects = [:]
        var action = cursor.resume
        let separator = query.isEmpty ? "?" : "?\(query)&"
        while !isCancelled() {
            switch action {
            case .wait(let duration):
                Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
                action = cursor.resume
            case .list:
                do {
                    let list = try Self.object(try client.get(path + (query.isEmpty ? "" : "?\(query)")))
                    let items = list["items"] as? [[String: Any]] ?? []
                    objects = Dictionary(items.compactMap { item in
                        Self.key(of: item).flatMap { key in (try? JSONSerialization.data(withJSONObject: item)).map { (key, Array($0)) } }
                    }, uniquingKeysWith: { _, newer in newer })
                    changed(objects)
                    action = cursor.listed(resourceVersion: Self.version(of: list) ?? "0")
                } catch {
                    let failure = Self.failure(error, path: path)
                    failed(failure)
                    action = cursor.failed(status: failure.code)
                }
            case .watch(let version):
                var serverError: KubernetesError?
                var events = 0
                let started = ContinuousClock.now
                do {
                    // The server ends the watch at its timeout; this side gives up 30 s later (a dead connection).
                    try client.watch(path + separator + "watch=1&allowWatchBookmarks=true&timeoutSeconds=\(watchSeconds)&resourceVersion=\(version)",
                                     limit: .seconds(watchSeconds + 30)) { event in
                        events += 1
                        guard let object = try? Self.object(event.object) else {
                            serverError = .malformed(path: path, detail: "a watch event's object is not JSON")
                            return false
                        }
                        switch event.type {
                        case "ERROR":
                            // A Status: 410 Expired when the version was compacted away.
                            serverError = KubernetesClient.failure(path: path, status: object["code"] as? Int ?? 500, body: event.object)
                            return false
                        case "BOOKMARK":
                            break
                        case "DELETED":
                            if let key = Self.key(of: object) { objects[key] = nil }
                            changed(objects)
                        default:
                            if let key = Self.key(of: object) { objects[key] = event.object }
                            changed(objects)
                        }
                        if let version = Self.version(of: object) { cursor.saw(resourceVersion: version) }
                        return !isCancelled()
                    }
                    if let serverError {
                        failed(serverError)
                        action = cursor.failed(status: serverError.code)
                    } else if events == 0, ContinuousClock.now - started < .seconds(1) {
                        // Ended at once with nothing said (a proxy closing watches): back off, do not spin.
                        failed(.malformed(path: path, detail: "the watch ended at once, without an event"))
                        action = cursor.failed(status: nil)
                    } else {
                        action = cursor.watchEnded()
                    }
                } catch {
                    let failure = Self.failure(error, path: path)
                    failed(failure)
                    action = cursor.failed(status: failure.code)
                }
            }
        }
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw KubernetesError.malformed(path: "", detail: "not a JSON object")
        }
        return object
    }

    /// Every failure as a `KubernetesError`, so `failed` hears all of them.
    static func failure(_ error: any Error, path: String) -> KubernetesError {
        switch error {
        case let error as KubernetesError: error
        default: .malformed(path: path, detail: "the list is not JSON: \(error)")
        }
    }

    static func key(of object: [String: Any]) -> String? {
        guard let metadata = object["metadata"] as? [String: Any], let name = metadata["name"] as? String else { return nil }
        return (metadata["namespace"] as? String).map { "\($0)/\(name)" } ?? name
    }

    static func version(of object: [String: Any]) -> String? {
        (object["metadata"] as? [String: Any])?["resourceVersion"] as? String
    }
}
