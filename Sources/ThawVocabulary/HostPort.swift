/// A proxy port that routes every request as if it were sent to `host`: a service's own port, or
/// the address a transformer is given for its predictors, where no Host header can be set.
public struct HostPort: Sendable, Equatable {
    public var port: Int
    public var host: String

    public init(port: Int, host: String) {
        self.port = port
        self.host = host
    }
}
