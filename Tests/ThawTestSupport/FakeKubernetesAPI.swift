import Foundation

/// The fake Kubernetes API server (`fake_apiserver.py`, beside this file) running for one test: HTTPS
/// with a CA made for the test, a bearer token, and a kubeconfig that points kubectl or Thaw at it.
public final class FakeKubernetesAPI: @unchecked Sendable {
    public let port: Int
    public private(set) var token: String
    public let certificates: TestCertificates
    public let directory: URL
    /// A kubeconfig with one context, `fake`, in namespace `ml`, logging in with the token.
    public let kubeconfig: String
    /// The same cluster, logging in with the test CA's client certificate and no token.
    public let certificateKubeconfig: String
    public let process: TestProcess

    public var server: String { "https://127.0.0.1:\(port)" }

    public let auditPath: String?

    /// Every request made so far, as `VERB GROUP RESOURCE` lines in order (with `audit: true`).
    public var auditLines: [String] {
        (auditPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "").split(separator: "\n").map(String.init)
    }

    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fake_apiserver.py").path

    /// - Parameter history: watch events kept; a watch from an older resourceVersion gets 410 Gone.
    /// - Parameter audit: keep `auditLog`: every resource request as RBAC sees it (`VERB GROUP RESOURCE`).
    public init(history: Int = 1000, bookmarkSeconds: Double = 1, audit: Bool = false) async throws {
        directory = try scratchDirectory("kube-api")
        auditPath = audit ? directory.appendingPathComponent("audit.log").path : nil
        certificates = try await TestCertificates(in: directory)
        token = "thaw-test-\(UUID().uuidString)"
        process = try TestProcess(url: try TestProcess.systemExecutable("python3"),
                                  arguments: ["-u", Self.script, "--cert", certificates.certificate, "--key", certificates.key,
                                              "--token", token, "--client-ca", certificates.authority, "--history", String(history), "--bookmark-interval", String(bookmarkSeconds),
                                              "--verbose"] + (auditPath.map { ["--audit", $0] } ?? []),
                                  name: "fake-apiserver")
        let line = try await process.waitFor("listening ", timeout: 30)
        guard let port = Int(line.split(separator: " ").last ?? "") else { throw TestFailure("no port in: \(line)") }
        self.port = port
        let (directory, certificates) = (directory, certificates)
        kubeconfig = try Self.writeKubeconfig(directory, port: port, authority: certificates.authority, user: "thaw",
                                              credentials: "token: \"\(token)\"")
        certificateKubeconfig = try Self.writeKubeconfig(
            directory, port: port, authority: certificates.authority, user: "thaw-autoscaler",
            credentials: "client-certificate: \"\(certificates.clientCertificate)\", client-key: \"\(certificates.clientKey)\"")
    }

    /// A kubeconfig (`kubeconfig-USER`) with one context, `fake`, in namespace `ml`, for `user` logging in with `credentials`.
    static func writeKubeconfig(_ directory: URL, port: Int, authority: String, user: String, credentials: String) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig-\(user)").path
        try """
            apiVersion: v1
            kind: Config
            current-context: fake
            clusters:
            - name: fake
              cluster: {server: "https://127.0.0.1:\(port)", certificate-authority: "\(authority)"}
            contexts:
            - name: fake
              context: {cluster: fake, user: \(user), namespace: ml}
            users:
            - name: \(user)
              user: {\(credentials)}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Answers the next `count` API requests whose path starts with `path` 429 with `Retry-After: retryAfter`.
    public func throttle(count: Int, retryAfter: Int, path: String = "/") throws {
        try fault("/fake/throttle?count=\(count)&retryAfter=\(retryAfter)&path=\(path)")
    }

    /// Accepts only `newToken` from now on, as after a service-account token rotation.
    public func rotateToken(to newToken: String) throws {
        try fault("/fake/token?token=\(newToken)")
        token = newToken
    }

    /// Ends every open watch mid-stream, as a dropped connection does.
    public func cutWatches() throws {
        try fault("/fake/cut-watches")
    }

    private func fault(_ path: String) throws {
        let run = try CommandRun.run(["curl", "-sS", "-f", "-X", "POST", "--cacert", certificates.authority,
                                      "-H", "Authorization: Bearer \(token)", server + path])
        guard run.status == 0 else { throw TestFailure("the fake refused \(path): \(run.stderr)") }
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}
