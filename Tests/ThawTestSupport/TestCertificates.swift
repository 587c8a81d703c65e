import Foundation

/// A throwaway certificate authority, a server certificate it signs for IP 127.0.0.1, and a client
/// certificate it signs for logging in (CN thaw-autoscaler), made with openssl.
public struct TestCertificates: Sendable {
    public let authority: String
    public let certificate: String
    public let key: String
    public let clientCertificate: String
    public let clientKey: String

    public init(in directory: URL) async throws {
        func openssl(_ arguments: [String]) async throws {
            let run = try TestProcess(url: try TestProcess.systemExecutable("openssl"), arguments: arguments, name: "openssl")
            guard try await run.waitForExit(timeout: 60) == 0 else {
                throw TestFailure("openssl \(arguments.joined(separator: " ")) failed:\n\(run.stderr)")
            }
        }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        authority = path("ca.pem")
        certificate = path("server.pem")
        key = path("server.key")
        clientCertificate = path("client.pem")
        clientKey = path("client.key")
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl(["req", "-x509"] + curve + ["-keyout", path("ca.key"), "-out", authority, "-days", "2", "-subj", "/CN=Thaw test CA"])
        try await openssl(["req"] + curve + ["-keyout", key, "-out", path("server.csr"), "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: path("san.cnf"), atomically: true, encoding: .utf8)
        try await openssl(["x509", "-req", "-in", path("server.csr"), "-CA", authority, "-CAkey", path("ca.key"), "-set_serial", "1",
                           "-days", "2", "-extfile", path("san.cnf"), "-out", certificate])
        try await openssl(["req"] + curve + ["-keyout", clientKey, "-out", path("client.csr"), "-subj", "/O=thaw/CN=thaw-autoscaler"])
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.cnf"), atomically: true, encoding: .utf8)
        try await openssl(["x509", "-req", "-in", path("client.csr"), "-CA", authority, "-CAkey", path("ca.key"), "-set_serial", "2",
                           "-days", "2", "-extfile", path("client.cnf"), "-out", clientCertificate])
    }
}
