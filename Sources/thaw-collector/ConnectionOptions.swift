import ArgumentParser
import PrometheusClient

/// The flags that say how to reach Prometheus: the same choices as the `prometheus:` section of a
/// collector file.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("basic-auth-user"), help: "User name for HTTP basic auth (with --basic-auth-password-file).")
    var basicAuthUser: String?

    @Option(name: .customLong("basic-auth-password-file"), help: "File holding the basic-auth password.")
    var basicAuthPasswordFile: String?

    @Option(name: .customLong("bearer-token-file"), help: "File holding a bearer token, read again whenever it changes.")
    var bearerTokenFile: String?

    @Option(name: .customLong("ca-file"), help: "PEM file of the CAs that sign the server's certificate (https).")
    var caFile: String?

    @Option(name: .customLong("header"), help: "An extra request header, 'Name: value' (repeatable).")
    var headers: [String] = []

    func validate() throws {
        if (basicAuthUser == nil) != (basicAuthPasswordFile == nil) {
            throw ValidationError("--basic-auth-user and --basic-auth-password-file go together; set both or neither")
        }
        if basicAuthUser != nil, bearerTokenFile != nil {
            throw ValidationError("--basic-auth-user and --bearer-token-file are both set; a request carries one Authorization header")
        }
        for header in headers where Self.split(header) == nil {
            throw ValidationError("--header must be 'Name: value', got \"\(header)\"")
        }
    }

    func connection(url: String, timeoutSeconds: Double) -> SourceConnection {
        var connection = SourceConnection(baseURL: url, timeoutSeconds: timeoutSeconds, caFile: caFile, headers: headers.compactMap(Self.split))
        if let basicAuthUser, let basicAuthPasswordFile {
            connection.basicAuth = .init(username: basicAuthUser, password: .file(SecretFile(path: basicAuthPasswordFile)))
        }
        connection.bearerTokenFile = bearerTokenFile.map(SecretFile.init(path:))
        return connection
    }

    private static func split(_ header: String) -> (String, String)? {
        guard let colon = header.firstIndex(of: ":") else { return nil }
        let name = header[..<colon].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.contains(" ") else { return nil }
        return (name, header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
}
