import Foundation

/// A live copy of one collection (every Deployment of a namespace, say): it lists, then watches,
/// and follows `ListWatchCursor` through watch timeouts, 410 Gone, 429 and failures.
///
/// Each object is decoded once, as `Item` (declare only the fields you use), and handed on as a
/// change, so a consumer of 30,000 pods does not parse them all again on every event.
///
/// Blocking: run it on a thread of its own. `watchSeconds` is the server-side timeout of each watch,
/// and so the longest it takes to notice `isCancelled` while nothing changes.
public struct CollectionMirror<Item: Decodable & Sendable>: Sendable {
    public let client: KubernetesClient
    /// The collection's path, e.g. `/apis/apps/v1/namespaces/ml/deployments`.
    public let path: String
    /// Extra query, e.g. `labelSelector=app%3Ddigits`.
    public let query: String
    public let watchSeconds: Int
    /// Objects per page of a list: a cluster's 30,000 pods come in pieces a timeout can hold.
    public let pageSize: Int

    public init(client: KubernetesClient, path: String, query: String = "", watchSeconds: Int = 300, pageSize: Int = 500) {
        self.client = client
        self.path = path
        self.query = query
        self.watchSeconds = watchSeconds
        self.pageSize = pageSize
    }

    /// What changed, keyed by `namespace/name` (or `name` for cluster-scoped objects).
    public enum Change: Sendable {
        /// A (re)list: the whole collection, replacing whatever was known.
        case listed([String: Item])
        /// Added or modified.
        case put(String, Item)
        case deleted(String)
    }

    private struct List: Decodable {
        struct Metadata: Decodable {
            var resourceVersion: String?
            var `continue`: String?
        }
        var metadata: Metadata?
        var items: [Keyed<Item>]?
    }

    /// Calls `changed` with the whole collection after each list and with every change after it,
    /// until `isCancelled` says so. `failed` hears each failure before the wait that follows it.
    public func run(cursor: ListWatchCursor = ListWatchCursor(), isCancelled: @escaping () -> Bool,
                    failed: (KubernetesError) -> Void = { _ in }, changed: (Change) -> Void) {
        var cursor = cursor
        var action = cursor.resume
        let separator = query.isEmpty ? "?" : "?\(query)&"
        let decoder = JSONDecoder()
        func fail(_ failure: KubernetesError) {
            failed(failure)
            action = cursor.failed(status: failure.code, retryAfter: failure.retryAfter)
        }
        while !isCancelled() {
            switch action {
            case .wait(let duration):
                Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
                action = cursor.resume
            case .list:
                do {
                    // Page by page, all from the snapshot of the first; the collection changes hands once, whole.
                    var objects: [String: Item] = [:]
                    var next: String?
                    var version = "0"
                    repeat {
                        let page = "limit=\(pageSize)" + (next.map { "&continue=\(Self.queryValue($0))" } ?? "")
                        let body = try client.get(path + separator + page)
                        let list: List
                        do {
                            list = try decoder.decode(List.self, from: Data(body))
                        } catch {
                            throw KubernetesError.malformed(path: path, detail: "the list is not what the API documents: \(error)")
                        }
                        for item in list.items ?? [] { objects[item.head.key] = item.item }
                        version = list.metadata?.resourceVersion ?? version
                        next = list.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }
                    } while next != nil && !isCancelled()
                    changed(.listed(objects))
                    action = cursor.listed(resourceVersion: version)
                } catch {
                    fail(Self.failure(error, path: path))
                }
            case .watch(let version):
                var serverError: KubernetesError?
                var events = 0
                let started = ContinuousClock.now
                do {
                    // The server ends the watch at its timeout; this side gives up 30 s later (a dead connection).
                    try client.watch(path + separator + "watch=1&allowWatchBookmarks=true&timeoutSeconds=\(watchSeconds)&resourceVersion=\(version)",
                                     as: Item.self, limit: .seconds(watchSeconds + 30)) { event in
                        events += 1
                        switch (event.type, event.item) {
                        case ("ERROR", _):
                            // A Status: 410 Expired when the version was compacted away.
                            let status = event.status ?? (500, "", "")
                            serverError = .status(path: path, code: status.code, reason: status.reason, message: status.message)
                            return false
                        case ("BOOKMARK", _):
                            break
                        case ("DELETED", _):
                            changed(.deleted(event.key))
                        case (_, let item?):
                            changed(.put(event.key, item))
                        default:
                            break
                        }
                        if let version = event.resourceVersion { cursor.saw(resourceVersion: version) }
                        return !isCancelled()
                    }
                    if let serverError {
                        fail(serverError)
                    } else if events == 0, ContinuousClock.now - started < .seconds(1) {
                        // Ended at once with nothing said (a proxy closing watches): back off, do not spin.
                        fail(.malformed(path: path, detail: "the watch ended at once, without an event"))
                    } else {
                        action = cursor.watchEnded()
                    }
                } catch {
                    fail(Self.failure(error, path: path))
                }
            }
        }
    }

    /// A token the server made, safe in a query: its alphabet is the server's business.
    static func queryValue(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Every failure as a `KubernetesError`, so `failed` hears all of them.
    static func failure(_ error: any Error, path: String) -> KubernetesError {
        switch error {
        case let error as KubernetesError: error
        default: .malformed(path: path, detail: "\(error)")
        }
    }
}
