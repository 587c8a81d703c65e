import CurlHTTP
import Foundation
import Synchronization

/// How to reach one HTTP metrics source (Prometheus, or a dcgm-exporter): the same knobs as
/// Prometheus' own `http_config`, because the people running Thaw already have them filled in for
/// their Prometheus, behind an auth proxy or a TLS ingress.
public struct SourceConnection: Sendable {
    public var baseURL: String
    public var timeoutSeconds: Double
    public var basicAuth: BasicAuth?
    /// A file holding a bearer token (a Kubernetes service-account token, which the kubelet rotates):
    /// read again whenever it changes, so a rotated token is used without a restart.
    public var bearerTokenFile: SecretFile?
    /// PEM file of the certificate authorities that sign the server's certificate (https only);
    /// without it the system's trust store is used.
    public var caFile: String?
    /// Extra request headers (`X-Scope-OrgID` for a multi-tenant Cortex or Thanos, and the like).
    public var headers: [(String, String)]
    /// Ends a read under way when stopped, within a second (a shutdown does not wait out a timeout).
    public var stop: CurlStop?

    public init(baseURL: String, timeoutSeconds: Double = 10, basicAuth: BasicAuth? = nil, bearerTokenFile: SecretFile? = nil,
                caFile: String? = nil, headers: [(String, String)] = []) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeoutSeconds = timeoutSeconds
        self.basicAuth = basicAuth
        self.bearerTokenFile = bearerTokenFile
        self.caFile = caFile
        self.headers = headers
    }

    public struct BasicAuth: Sendable {
        public var username: String
        public var password: Password

        public init(username: String, password: Password) {
            self.username = username
            self.password = password
        }
    }

    /// A password given inline (tests, local use) or kept in a file (a mounted Secret).
    public enum Password: Sendable {
        case value(String)
        case file(SecretFile)

        func read() throws -> String {
            switch self {
            case .value(let text): text
            case .file(let file): try file.read()
            }
        }
    }

    /// The header lines auth and configuration add to every request.
    func authorizationHeaders() throws -> [String] {
        var lines = headers.map { "\($0.0): \($0.1)" }
        if let bearerTokenFile { lines.append("Authorization: Bearer \(try bearerTokenFile.read())") }
        return lines
    }
}

/// A secret kept in a file, read again only when the file changes (modification time, size or
/// inode), so polling every few seconds costs one `stat` and a rotated secret is picked up at once.
public final class SecretFile: Sendable {
    public let path: String
    private struct Cached {
        var stamp: [Int]
        var text: String
    }
    private let cache = Mutex<Cached?>(nil)

    public init(path: String) {
        self.path = path
    }

    /// The file's text without surrounding whitespace (a trailing newline is not part of a token).
    public func read() throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SourceError.credentials("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let stamp = [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        if let cached = cache.withLock({ $0 }), cached.stamp == stamp { return cached.text }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SourceError.credentials("cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw SourceError.credentials("\(path) is empty") }
        cache.withLock { $0 = Cached(stamp: stamp, text: text) }
        return text
    }
}

/// Why a read from a metrics source failed. `kind` is the label of the collector's error counter.
extension SourceConnection {
    /// The most the collector reads of one answer (a million samples of remote read are about
    /// 20 MB), and the most a SAMPLES answer may expand to: an endless body, or a snappy header
    /// claiming half a gigabyte, costs at most this, not whatever the server says.
    public static let maxBodyBytes = 64 * 1024 * 1024
    public static let maxUncompressedBytes = 256 * 1024 * 1024
}

public enum SourceError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error status; its body says why.
    case status(url: String, code: Int, body: String)
    case transport(String)
    case timedOut(url: String, seconds: Double)
    /// The answer could not be read: corrupt snappy, a bad frame or checksum, an unreadable chunk,
    /// malformed exposition text.
    case body(url: String, message: String)
    /// A token or password file is missing or empty.
    case credentials(String)
    /// The read was stopped before it ended (the collector is shutting down).
    case stopped(url: String)

    public var kind: String {
        switch self {
        case .status: "status"
        case .transport: "transport"
        case .timedOut: "timeout"
        case .body: "body"
        case .credentials: "credentials"
        case .stopped: "stopped"
        }
    }

    public var description: String {
        switch self {
        case .status(let url, let code, let body): "\(url) answered \(code): \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .transport(let message): "cannot reach \(message)"
        case .timedOut(let url, let seconds): "\(url): no complete answer within \(seconds) s"
        case .body(let url, let message): "the answer of \(url) could not be read: \(message)"
        case .credentials(let message): "credentials: \(message)"
        case .stopped(let url): "\(url): the read was stopped (shutting down)"
        }
    }
}
