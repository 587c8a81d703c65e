import CurlHTTP
import Foundation
import KubernetesAccess
import Synchronization

/// Why a Kubernetes API call failed, with what the server said.
public enum KubernetesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error status; `reason` and `message` from its `Status` body
    /// (NotFound, Conflict, Expired, Unauthorized, TooManyRequests, …).
    case status(path: String, code: Int, reason: String, message: String)
    /// No answer: the connection, TLS or a timeout failed.
    case transport(path: String, message: String)
    /// The credentials could not be read (a token file that is missing).
    case credentials(String)
    /// The server sent something that is not what the API promises (a body or a watch line that is not JSON).
    case malformed(path: String, detail: String)
    /// 429: the server (its priority and fairness) asks the client to come back after `retryAfterSeconds`.
    case tooManyRequests(path: String, retryAfterSeconds: Int, message: String)

    public var code: Int? {
        switch self {
        case .status(_, let code, _, _): code
        case .tooManyRequests: 429
        default: nil
        }
    }

    /// How long the server asked the client to wait, when it did.
    public var retryAfter: Duration? {
        if case .tooManyRequests(_, let seconds, _) = self { return .seconds(seconds) }
        return nil
    }

    public var description: String {
        switch self {
        case .status(let path, let code, let reason, let message): "\(path): \(code) \(reason): \(message)"
        case .transport(let path, let message): "\(path): \(message)"
        case .credentials(let message): message
        case .malformed(let path, let detail): "\(path): \(detail)"
        case .tooManyRequests(let path, let seconds, let message): "\(path): 429 TooManyRequests (retry after \(seconds) s): \(message)"
        }
    }
}

/// One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
///
/// The line is decoded once: the object as `Item` for the three change types (so a consumer never
/// parses it again), only its version for a bookmark, and its `Status` for an error.
public struct WatchEvent<Item: Decodable & Sendable>: Sendable {
    public var type: String
    /// `namespace/name`, or `name` for a cluster-scoped object; empty for bookmarks and errors.
    public var key: String
    public var resourceVersion: String?
    /// The object, for ADDED, MODIFIED and DELETED.
    public var item: Item?
    /// The `Status` an ERROR event carries (410 Expired when the version was compacted away).
    public var status: (code: Int, reason: String, message: String)?
}

/// The fields every object has that a mirror needs: its key and version.
struct ObjectHead: Decodable {
    struct Metadata: Decodable {
        var name: String?
        var namespace: String?
        var resourceVersion: String?
    }
    var metadata: Metadata?
    // A Status (an ERROR event's object) has these instead.
    var code: Int?
    var reason: String?
    var message: String?

    var key: String {
        guard let name = metadata?.name else { return "" }
        return metadata?.namespace.map { "\($0)/\(name)" } ?? name
    }
}

/// One object of a list or watch, decoded as `Item` and keyed from its metadata in the same pass.
struct Keyed<Item: Decodable>: Decodable {
    var head: ObjectHead
    var item: Item
    init(from decoder: any Decoder) throws {
        head = try ObjectHead(from: decoder)
        item = try Item(from: decoder)
    }
}

/// A watch line: the event type decides how much of the object is decoded.
struct WatchLine<Item: Decodable & Sendable>: Decodable {
    var event: WatchEvent<Item>
    enum CodingKeys: String, CodingKey { case type, object }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED", "MODIFIED", "DELETED":
            let keyed = try container.decode(Keyed<Item>.self, forKey: .object)
            event = WatchEvent(type: type, key: keyed.head.key, resourceVersion: keyed.head.metadata?.resourceVersion, item: keyed.item)
        default:
            let head = try container.decode(ObjectHead.self, forKey: .object)
            event = WatchEvent(type: type, key: "", resourceVersion: head.metadata?.resourceVersion,
                               status: type == "ERROR" ? (head.code ?? 500, head.reason ?? "", head.message ?? "") : nil)
        }
    }
}

/// HTTP calls to the Kubernetes API on libcurl, with a cluster's trust and credentials.
///
/// Calls block their thread (run them off the concurrency pool). A token named by a file is read
/// again for every call, so a rotated service-account token is used at once.
public struct KubernetesClient: Sendable {
    public let access: ClusterAccess
    public let timeout: Duration

    public init(access: ClusterAccess, timeout: Duration = .seconds(30)) {
        self.access = access
        self.timeout = timeout
    }

    public func get(_ path: String) throws -> [UInt8] {
        try send("GET", path, body: nil, contentType: nil)
    }

    /// A JSON merge patch (RFC 7386): `{"spec":{"replicas":3}}` needs no resourceVersion.
    public func mergePatch(_ path: String, _ patch: [UInt8]) throws -> [UInt8] {
        try send("PATCH", path, body: patch, contentType: "application/merge-patch+json")
    }

    public func post(_ path: String, _ object: [UInt8]) throws -> [UInt8] {
        try send("POST", path, body: object, contentType: "application/json")
    }

    /// A whole-object update: 409 Conflict when `object`'s resourceVersion is no longer the newest.
    public func put(_ path: String, _ object: [UInt8]) throws -> [UInt8] {
        try send("PUT", path, body: object, contentType: "application/json")
    }

    public func delete(_ path: String) throws -> [UInt8] {
        try send("DELETE", path, body: nil, contentType: nil)
    }

    /// Streams a watch (`path` carries `watch=1`, its resourceVersion and `timeoutSeconds`) to `event`
    /// until the server ends it or `event` returns false. `limit` bounds it on this side too (give the
    /// server's timeout and a margin), so a connection that died without closing cannot hang it.
    public func watch<Item: Decodable & Sendable>(_ path: String, as: Item.Type, limit: Duration,
                                                  event: (WatchEvent<Item>) -> Bool) throws {
        // The splitter holds the receiver only while the transfer runs.
        try withoutActuallyEscaping(event) { event in
            let lines = LineSplitter<Item>(event: event)
            _ = try send("GET", path, body: nil, contentType: nil, stream: lines, limit: limit)
            if let bad = lines.malformed { throw KubernetesError.malformed(path: path, detail: "a watch line is not an event: \(bad)") }
        }
    }

    // MARK: Transport

    /// What a streamed body is handed to, chunk by chunk; false stops the transfer.
    protocol LineFeed: AnyObject {
        func feed(_ bytes: UnsafeRawBufferPointer) -> Bool
        var malformed: String? { get }
    }

    /// Newline-delimited JSON events, as a watch sends them, however the bytes are chunked.
    final class LineSplitter<Item: Decodable & Sendable>: LineFeed {
        private var pending: [UInt8] = []
        private let decoder = JSONDecoder()
        let event: (WatchEvent<Item>) -> Bool
        /// The first line that was not an event; the watch stops there, since what follows cannot be trusted.
        private(set) var malformed: String?
        init(event: @escaping (WatchEvent<Item>) -> Bool) { self.event = event }

        /// False once the receiver wants no more.
        func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
            pending.append(contentsOf: bytes)
            // One pass over the buffer and one removal at the end: a first watch that replays
            // thousands of objects must not move the rest of the buffer once per line.
            var start = pending.startIndex
            defer { pending.removeSubrange(..<start) }
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[start..<newline])
                start = newline + 1
                guard !line.isEmpty else { continue }
                guard let decoded = try? decoder.decode(WatchLine<Item>.self, from: Data(line)) else {
                    malformed = String(decoding: line.prefix(200), as: UTF8.self)
                    return false
                }
                if !event(decoded.event) { return false }
            }
            return true
        }
    }

    private func send(_ method: String, _ path: String, body: [UInt8]?, contentType: String?,
                      stream: (any LineFeed)? = nil, limit: Duration? = nil) throws -> [UInt8] {
        var exchange = CurlExchange(url: access.server.hasSuffix("/") ? String(access.server.dropLast()) + path : access.server + path)
        exchange.method = method
        exchange.body = body
        exchange.headers = ["Accept: application/json"] + (contentType.map { ["Content-Type: \($0)"] } ?? [])
        switch access.token {
        case .value(let token): exchange.headers.append("Authorization: Bearer \(token)")
        case .file(let file):
            guard let token = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                  !token.isEmpty else {
                throw KubernetesError.credentials("the token file \(file) (\(access.origin)) is missing, unreadable or empty")
            }
            exchange.headers.append("Authorization: Bearer \(token)")
        case nil: break
        }
        exchange.timeoutMilliseconds = Self.milliseconds(limit ?? timeout)
        exchange.connectTimeoutMilliseconds = Self.milliseconds(min(timeout, .seconds(10)))
        switch access.trust {
        case .system: break
        case .skipVerification: exchange.verifyPeer = false
        case .authority(let pem): exchange.authority = Self.pem(pem)
        }
        if let certificate = access.clientCertificate {
            exchange.clientCertificate = (Self.pem(certificate.certificate), Self.pem(certificate.key))
        }
        let response: CurlExchange.Response
        do {
            response = try exchange.perform(stream: stream.map { lines in { lines.feed($0) } })
        } catch CurlExchange.Failure.timedOut {
            throw KubernetesError.transport(path: path, message: "\(exchange.url): no answer within \(timeout)")
        } catch CurlExchange.Failure.transport(let message) {
            throw KubernetesError.transport(path: path, message: message)
        }
        guard (200..<300).contains(response.status) else {
            if response.status == 429 {
                // Without a Retry-After the API server's own default is 1 s.
                let status = Self.failure(path: path, status: 429, body: response.body)
                let message = if case .status(_, _, _, let message) = status { message } else { "" }
                throw KubernetesError.tooManyRequests(path: path, retryAfterSeconds: response.retryAfterSeconds ?? 1, message: message)
            }
            throw Self.failure(path: path, status: response.status, body: response.body)
        }
        return response.body
    }

    /// At least 1: libcurl reads 0 as "no limit".
    private static func milliseconds(_ duration: Duration) -> Int {
        max(1, Int(duration.components.seconds) * 1000 + Int(duration.components.attoseconds / 1_000_000_000_000_000))
    }

    private static func pem(_ pem: ClusterAccess.PEM) -> CurlExchange.PEM {
        switch pem {
        case .file(let path): .file(path)
        case .data(let bytes): .data(bytes)
        }
    }

    /// The server's `Status` reason and message, or the start of its body when it sent none.
    public static func failure(path: String, status: Int, body: [UInt8]) -> KubernetesError {
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], object["kind"] as? String == "Status" {
            return .status(path: path, code: status, reason: object["reason"] as? String ?? "", message: object["message"] as? String ?? "")
        }
        return .status(path: path, code: status, reason: "", message: String(decoding: body.prefix(512), as: UTF8.self))
    }
}
