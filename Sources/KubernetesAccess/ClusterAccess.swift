import ConfigFields
import Foundation

/// Where the Kubernetes API is and how Thaw proves who it is: from a kubeconfig (`--kubeconfig`),
/// or, in a pod, from the service account Kubernetes mounts into it.
///
/// Only what the file says is resolved here (paths made absolute, base64 decoded, every mistake
/// named with its field); files that can change while Thaw runs (a rotated token) are named, not
/// read, so the client reads them again when they change.
public struct ClusterAccess: Sendable, Equatable {
    /// Bytes of a PEM file, given inline (`*-data` fields, base64) or by path.
    public enum PEM: Sendable, Equatable {
        case file(String)
        case data([UInt8])
    }

    public enum Trust: Sendable, Equatable {
        /// The system's CA bundle.
        case system
        case authority(PEM)
        /// `insecure-skip-tls-verify: true`: no certificate check, as kubectl's flag (test clusters).
        case skipVerification
    }

    public enum BearerToken: Sendable, Equatable {
        case value(String)
        /// Read again whenever the file changes: projected service-account tokens rotate.
        case file(String)
    }

    public struct ClientCertificate: Sendable, Equatable {
        public var certificate: PEM
        public var key: PEM

        public init(certificate: PEM, key: PEM) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// `https://host:port`, with any path prefix the kubeconfig gives.
    public var server: String
    public var trust: Trust
    public var token: BearerToken?
    public var clientCertificate: ClientCertificate?
    /// The context's (or the pod's) namespace; nil when none is named.
    public var namespace: String?
    /// Where this came from, for messages: the kubeconfig and context, or the service account.
    public var origin: String


    public init(server: String, trust: Trust = .system, token: BearerToken? = nil, clientCertificate: ClientCertificate? = nil,
                namespace: String? = nil, origin: String) {
        self.server = server
        self.trust = trust
        self.token = token
        self.clientCertificate = clientCertificate
        self.namespace = namespace
        self.origin = origin
    }

    /// Where Kubernetes mounts a pod's service account.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// `--kubeconfig PATH` when given; else the pod's service account when `KUBERNETES_SERVICE_HOST`
    /// is set (running in a cluster); else an error saying which to provide.
    public static func resolve(kubeconfig: String?, context: String? = nil, environment: [String: String],
                               serviceAccount directory: String = serviceAccountDirectory) throws -> ClusterAccess {
        if let kubeconfig { return try Self.kubeconfig(contentsOf: kubeconfig, context: context) }
        if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment, serviceAccount: directory) }
        throw ConfigError(file: "--kubeconfig", "no kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig PATH (for example ~/.kube/config)")
    }

    /// The service account of the pod this runs in: the API server from the environment Kubernetes
    /// sets, the token and the cluster's CA from the mounted files, the pod's namespace.
    public static func inCluster(environment: [String: String], serviceAccount directory: String = serviceAccountDirectory) throws -> ClusterAccess {
        let origin = "the pod's service account (\(directory))"
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw ConfigError(file: origin, "KUBERNETES_SERVICE_HOST is not set: not running in a pod; pass --kubeconfig PATH")
        }
        let portText = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ConfigError(file: origin, "KUBERNETES_SERVICE_PORT must be a port from 1 to 65535, got \"\(portText)\"")
        }
        let token = directory + "/token", authority = directory + "/ca.crt"
        for (path, what) in [(token, "token"), (authority, "cluster CA certificate")] where !FileManager.default.isReadableFile(atPath: path) {
            throw ConfigError(file: path, "the service account's \(what) is missing or unreadable; is automountServiceAccountToken off for this pod?")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let address = host.contains(":") ? "[\(host)]" : host
        return ClusterAccess(server: "https://\(address):\(port)", trust: .authority(.file(authority)), token: .file(token),
                             namespace: namespace?.isEmpty == false ? namespace : nil, origin: origin)
    }

    /// The current context of a kubeconfig file (or `context`), as kubectl reads it: relative paths
    /// are relative to the file's directory.
    public static func kubeconfig(contentsOf path: String, context: String? = nil) throws -> ClusterAccess {
        let text = try InputFile.text(at: path, what: "the kubeconfig")
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try kubeconfig(text, file: path, directory: directory, context: context)
    }

    public static func kubeconfig(_ text: String, file: String, directory: String, context: String? = nil) throws -> ClusterAccess {
        let root = try FieldReader.document(text, file: file, expected: "\"clusters\", \"contexts\", \"users\" and \"current-context\" (a kubeconfig)")
        let name: String
        if let context {
            name = context
        } else {
            guard let current = try root.string("current-context"), !current.isEmpty else {
                throw root.error("no current-context is set; choose one with kubectl config use-context NAME")
            }
            name = current
        }
        let contexts = try root.objectList("contexts") ?? []
        guard let entry = try contexts.first(where: { try $0.string("name") == name }) else {
            let known = try contexts.compactMap { try $0.string("name") }
            throw root.error("context \"\(name)\" is not in contexts (\(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        }
        guard let chosen = try entry.object("context") else { throw entry.error("field \"\(entry.path)context\" is missing") }
        guard let clusterName = try chosen.string("cluster") else { throw chosen.error("field \"\(chosen.path)cluster\" is missing") }
        let userName = try chosen.string("user")

        let cluster = try named(clusterName, in: root, list: "clusters", field: "cluster")
        let resolver = PathResolver(directory: directory)
        guard let server = try cluster.string("server"), !server.isEmpty else {
            throw cluster.error("field \"\(cluster.path)server\" is missing: the API server's URL, e.g. https://127.0.0.1:6443", at: "server")
        }
        guard let url = URL(string: server), ["https", "http"].contains(url.scheme ?? ""), url.host != nil else {
            throw cluster.error("field \"\(cluster.path)server\" must be an https:// (or http://) URL with a host, got \"\(server)\"", at: "server")
        }
        for field in ["tls-server-name", "proxy-url"] where cluster.has(field) {
            throw cluster.error("field \"\(cluster.path)\(field)\" is not supported by Thaw yet; reach the API server directly at \"server\"")
        }
        var trust = Trust.system
        let authority = try pem(in: cluster, file: "certificate-authority", data: "certificate-authority-data", resolver: resolver)
        if try cluster.bool("insecure-skip-tls-verify") == true {
            // kubectl refuses this pair too: which one was meant cannot be guessed.
            guard authority == nil else {
                throw cluster.error("field \"\(cluster.path)insecure-skip-tls-verify\" is set together with a certificate authority; remove one of them")
            }
            trust = .skipVerification
        } else if let authority {
            trust = .authority(authority)
        }
        var access = ClusterAccess(server: server, trust: trust, namespace: try chosen.string("namespace"),
                                   origin: "kubeconfig \(file), context \(name)")
        guard let userName else { return access }
        let user = try named(userName, in: root, list: "users", field: "user")
        for plugin in ["exec", "auth-provider"] where user.has(plugin) {
            let named = (try? user.object(plugin)?.string(plugin == "exec" ? "command" : "name")) ?? nil
            throw user.error("field \"\(user.path)\(plugin)\"\(named.map { " (\($0))" } ?? ""): credential plugins are not run by Thaw; give the user a token, a tokenFile or a client certificate (for example a service account's token from kubectl create token NAME)")
        }
        if user.has("username") || user.has("password") {
            throw user.error("field \"\(user.path)username\": basic authentication was removed from Kubernetes in 1.19; use a token, a tokenFile or a client certificate", at: "username")
        }
        // As client-go: a token file, which can rotate, wins over a token written in the file.
        if let tokenFile = try user.string("tokenFile"), !tokenFile.isEmpty {
            access.token = .file(resolver.absolute(tokenFile))
        } else if let token = try user.string("token"), !token.isEmpty {
            access.token = .value(token)
        }
        let certificate = try pem(in: user, file: "client-certificate", data: "client-certificate-data", resolver: resolver)
        let key = try pem(in: user, file: "client-key", data: "client-key-data", resolver: resolver)
        switch (certificate, key) {
        case let (certificate?, key?): access.clientCertificate = ClientCertificate(certificate: certificate, key: key)
        case (nil, nil): break
        case (_?, nil): throw user.error("the user has a client certificate but no \"\(user.path)client-key\" (or client-key-data)")
        case (nil, _?): throw user.error("the user has a client key but no \"\(user.path)client-certificate\" (or client-certificate-data)")
        }
        return access
    }

    /// The object of the entry called `name` in a list of `{name, FIELD: {...}}` entries.
    private static func named(_ name: String, in root: FieldReader, list: String, field: String) throws -> FieldReader {
        let entries = try root.objectList(list) ?? []
        guard let entry = try entries.first(where: { try $0.string("name") == name }) else {
            throw root.error("\(field) \"\(name)\" (named by the context) is not in \(list)")
        }
        guard let object = try entry.object(field) else { throw entry.error("field \"\(entry.path)\(field)\" is missing") }
        return object
    }

    /// A PEM given inline (base64 in `data`, which wins, as in kubectl) or as a path in `file`.
    private static func pem(in reader: FieldReader, file: String, data: String, resolver: PathResolver) throws -> PEM? {
        if let encoded = try reader.string(data), !encoded.isEmpty {
            guard let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                throw reader.error("field \"\(reader.path)\(data)\" is not valid base64")
            }
            return .data(Array(bytes))
        }
        if let path = try reader.string(file), !path.isEmpty { return .file(resolver.absolute(path)) }
        return nil
    }

    private struct PathResolver {
        let directory: String
        func absolute(_ path: String) -> String {
            if path.hasPrefix("/") { return path }
            return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)).standardizedFileURL.path
        }
    }
}
