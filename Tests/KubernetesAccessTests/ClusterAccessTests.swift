import ConfigFields
import Foundation
import KubernetesAccess
import Testing
import ThawTestSupport

/// Reading a kubeconfig and a pod's service account: what kubectl would use, every mistake named.
@Suite struct ClusterAccessTests {
    static let caPEM = "-----BEGIN CERTIFICATE-----\nMIIBfakeCA\n-----END CERTIFICATE-----\n"
    static let certificatePEM = "-----BEGIN CERTIFICATE-----\nMIIBfakeClient\n-----END CERTIFICATE-----\n"
    static let keyPEM = "-----BEGIN EC PRIVATE KEY-----\nMHcfakeKey\n-----END EC PRIVATE KEY-----\n"

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// A directory with the given files (relative paths) for one test.
    static func directory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("thaw-kube-\(UUID().uuidString)")
        for (path, contents) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    /// What `kind` writes: everything inline, a context with a namespace.
    static let inline = """
        apiVersion: v1
        kind: Config
        current-context: kind-thaw
        clusters:
        - name: kind-thaw
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority-data: \(base64(caPEM))
        contexts:
        - name: kind-thaw
          context: {cluster: kind-thaw, user: kind-thaw, namespace: ml}
        - name: other
          context: {cluster: kind-thaw, user: token-user}
        users:
        - name: kind-thaw
          user:
            client-certificate-data: \(base64(certificatePEM))
            client-key-data: \(base64(keyPEM))
        - name: token-user
          user: {token: abc.def}
        preferences: {}
        """

    /// Files next to the kubeconfig, named relative to it.
    static let withFiles = """
        current-context: dev
        clusters:
        - {name: dev, cluster: {server: "https://api.example.test:443/prefix", certificate-authority: certs/ca.crt}}
        contexts:
        - {name: dev, context: {cluster: dev, user: dev}}
        users:
        - {name: dev, user: {tokenFile: secrets/token, client-certificate: certs/client.crt, client-key: certs/client.key}}
        """

    @Test func inlineDataIsDecodedAndTheContextsNamespaceKept() throws {
        let access = try ClusterAccess.kubeconfig(Self.inline, file: "kubeconfig", directory: "/tmp")
        #expect(access.server == "https://127.0.0.1:6443")
        #expect(access.trust == .authority(.data(Array(Self.caPEM.utf8))))
        #expect(access.clientCertificate == .init(certificate: .data(Array(Self.certificatePEM.utf8)), key: .data(Array(Self.keyPEM.utf8))))
        #expect(access.token == nil)
        #expect(access.namespace == "ml")
        #expect(access.origin == "kubeconfig kubeconfig, context kind-thaw")

        let other = try ClusterAccess.kubeconfig(Self.inline, file: "kubeconfig", directory: "/tmp", context: "other")
        #expect(other.token == .value("abc.def"))
        #expect(other.clientCertificate == nil)
        #expect(other.namespace == nil)
    }

    @Test func pathsAreRelativeToTheKubeconfigsDirectory() throws {
        let directory = try Self.directory(["config": Self.withFiles])
        defer { try? FileManager.default.removeItem(at: directory) }
        let access = try ClusterAccess.kubeconfig(contentsOf: directory.appendingPathComponent("config").path)
        let base = directory.standardizedFileURL.path
        #expect(access.server == "https://api.example.test:443/prefix")
        #expect(access.trust == .authority(.file(base + "/certs/ca.crt")))
        #expect(access.token == .file(base + "/secrets/token"))
        #expect(access.clientCertificate == .init(certificate: .file(base + "/certs/client.crt"), key: .file(base + "/certs/client.key")))
    }

    @Test(arguments: [
        ("current-context: gone\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {server: https://a}}]",
         "context \"gone\" is not in contexts (a)"),
        ("contexts: []", "no current-context is set; choose one with kubectl config use-context NAME"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: b}}]\nclusters: [{name: a, cluster: {server: https://a}}]",
         "cluster \"b\" (named by the context) is not in clusters"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {server: \"127.0.0.1:6443\"}}]",
         "field \"clusters[0].cluster.server\" must be an https:// (or http://) URL with a host, got \"127.0.0.1:6443\""),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {insecure-skip-tls-verify: true}}]",
         "field \"clusters[0].cluster.server\" is missing"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {server: https://a, certificate-authority-data: \"%%%\"}}]",
         "field \"clusters[0].cluster.certificate-authority-data\" is not valid base64"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a, user: u}}]\nclusters: [{name: a, cluster: {server: https://a}}]\nusers: [{name: u, user: {exec: {command: gke-gcloud-auth-plugin}}}]",
         "field \"users[0].user.exec\" (gke-gcloud-auth-plugin): credential plugins are not run by Thaw"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a, user: u}}]\nclusters: [{name: a, cluster: {server: https://a}}]\nusers: [{name: u, user: {client-certificate: c.crt}}]",
         "the user has a client certificate but no \"users[0].user.client-key\""),
        ("- just\n- a list", "expected a map"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {server: https://a, insecure-skip-tls-verify: true, certificate-authority: ca.crt}}]",
         "field \"clusters[0].cluster.insecure-skip-tls-verify\" is set together with a certificate authority"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\nclusters: [{name: a, cluster: {server: https://a, proxy-url: http://proxy:3128}}]",
         "field \"clusters[0].cluster.proxy-url\" is not supported by Thaw yet"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: a, user: u}}]\nclusters: [{name: a, cluster: {server: https://a}}]\nusers: [{name: u, user: {username: admin, password: secret}}]",
         "basic authentication was removed from Kubernetes in 1.19"),
    ])
    func everyMistakeNamesItsField(kubeconfig: String, message: String) throws {
        let error = try #require(throws: ConfigError.self) {
            try ClusterAccess.kubeconfig(kubeconfig, file: "/home/me/.kube/config", directory: "/home/me/.kube")
        }
        #expect(error.file == "/home/me/.kube/config")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func skipVerificationAloneAndATokenFileOverAToken() throws {
        let access = try ClusterAccess.kubeconfig("""
            current-context: a
            contexts: [{name: a, context: {cluster: a, user: u}}]
            clusters: [{name: a, cluster: {server: "https://a:1", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: written, tokenFile: secrets/token}}]
            """, file: "k", directory: "/d")
        #expect(access.trust == .skipVerification)
        #expect(access.token == .file("/d/secrets/token"), "the file can rotate; the written token cannot")
    }

    @Test func aPodsServiceAccount() throws {
        let directory = try Self.directory(["token": "eyJtoken", "ca.crt": Self.caPEM, "namespace": "ml\n"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let access = try ClusterAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                                 serviceAccount: directory.path)
        #expect(access.server == "https://10.96.0.1:443")
        #expect(access.trust == .authority(.file(directory.path + "/ca.crt")))
        // Named, not read: the client reads it again when the kubelet rotates it.
        #expect(access.token == .file(directory.path + "/token"))
        #expect(access.namespace == "ml")

        let v6 = try ClusterAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1"], serviceAccount: directory.path)
        #expect(v6.server == "https://[fd00::1]:443")
    }

    @Test func withoutAMountedTokenOrAClusterTheMessageSaysWhatToDo() throws {
        let directory = try Self.directory(["ca.crt": Self.caPEM])
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = try #require(throws: ConfigError.self) {
            try ClusterAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"], serviceAccount: directory.path)
        }
        #expect(missing.file == directory.path + "/token")
        #expect(missing.message.contains("automountServiceAccountToken"))

        let nowhere = try #require(throws: ConfigError.self) {
            try ClusterAccess.resolve(kubeconfig: nil, environment: [:], serviceAccount: directory.path)
        }
        #expect(nowhere.message.contains("pass --kubeconfig PATH"))
        let port = try #require(throws: ConfigError.self) {
            try ClusterAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "http"],
                                        serviceAccount: directory.path)
        }
        #expect(port.message.contains("KUBERNETES_SERVICE_PORT must be a port"))
    }
}

/// The real kubectl reads the same files the same way: its `config view --minify --flatten` (which
/// embeds every file it resolves) agrees with what `ClusterAccess` resolved, byte for byte.
@Suite struct ClusterAccessAgainstKubectlTests {
    static func kubectlView(_ kubeconfig: String, context: String? = nil) throws -> [String: Any] {
        // Not the kubeconfig's directory: relative paths must resolve against the file, not here.
        let run = try CommandRun.run(["kubectl", "--kubeconfig", kubeconfig] + (context.map { ["--context", $0] } ?? [])
                                     + ["config", "view", "--minify", "--flatten", "-o", "json"], in: URL(fileURLWithPath: "/"))
        try #require(run.status == 0, "kubectl config view: \(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    static func first(_ view: [String: Any], _ list: String, _ field: String) -> [String: Any] {
        ((view[list] as? [[String: Any]])?.first?[field] as? [String: Any]) ?? [:]
    }

    static func bytes(_ pem: ClusterAccess.PEM?) throws -> [UInt8]? {
        switch pem {
        case .data(let bytes): return bytes
        case .file(let path): return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        case nil: return nil
        }
    }

    static func decoded(_ text: Any?) -> [UInt8]? { (text as? String).flatMap { Data(base64Encoded: $0) }.map(Array.init) }

    @Test(arguments: [(false, nil as String?), (true, nil), (true, "other")])
    func kubectlResolvesTheSameServerNamespaceAndCredentials(inline: Bool, context: String?) throws {
        let directory = try ClusterAccessTests.directory([
            "config": inline ? ClusterAccessTests.inline : ClusterAccessTests.withFiles.replacingOccurrences(
                of: "{cluster: dev, user: dev}", with: "{cluster: dev, user: dev, namespace: ml}"),
            "certs/ca.crt": "the CA\n", "certs/client.crt": "the client certificate\n", "certs/client.key": "the key\n",
            "secrets/token": "a-token",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config").path
        let access = try ClusterAccess.kubeconfig(contentsOf: path, context: context)
        let view = try Self.kubectlView(path, context: context)
        let cluster = Self.first(view, "clusters", "cluster"), user = Self.first(view, "users", "user")

        #expect(access.server == cluster["server"] as? String)
        #expect(access.namespace == Self.first(view, "contexts", "context")["namespace"] as? String)
        guard case .authority(let authority) = access.trust else { Issue.record("no CA: \(access.trust)"); return }
        #expect(try Self.bytes(authority) == Self.decoded(cluster["certificate-authority-data"]))
        #expect(try Self.bytes(access.clientCertificate?.certificate) == Self.decoded(user["client-certificate-data"]))
        #expect(try Self.bytes(access.clientCertificate?.key) == Self.decoded(user["client-key-data"]))
        switch access.token {
        case .value(let token): #expect(token == user["token"] as? String)
        case .file(let file):
            // kubectl leaves tokenFile as written; it reads it relative to the kubeconfig, as we do.
            let written = try #require(user["tokenFile"] as? String)
            #expect(file == URL(fileURLWithPath: written, relativeTo: URL(fileURLWithPath: directory.path, isDirectory: true)).standardizedFileURL.path)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "a-token")
        case nil: #expect(user["token"] == nil && user["tokenFile"] == nil)
        }
    }
}
